"""The dataset file as TRL's conversational preference format."""

import json

from datasets import Dataset as ArrowDataset


def read_pairs(jsonl_path):
    """Yield `prompt` / `chosen` / `rejected` (+ `tools`) rows from a validated file,
    each with the `line` number it came from, so problems can name it."""
    with open(jsonl_path, encoding="utf-8-sig") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            example = json.loads(line)
            prompt = example["input"]
            tools = prompt.get("tools") or None
            yield {
                "line": number,
                "prompt": [_message(m) for m in prompt["messages"]],
                "chosen": [_message(example["preferred_output"][0])],
                "rejected": [_message(example["non_preferred_output"][0])],
                # TRL reads a JSON string here; a string column keeps Arrow from
                # having to unify the tools' varying schemas.
                "tools": json.dumps(tools) if tools else None,
            }


def _message(message):
    return {"role": message["role"], "content": message["content"]}


def load_pairs(jsonl_path, cache_dir):
    """An Arrow-backed dataset on disk, so millions of pairs never sit in memory."""
    return ArrowDataset.from_generator(
        read_pairs,
        gen_kwargs={"jsonl_path": str(jsonl_path)},
        cache_dir=str(cache_dir),
    )
