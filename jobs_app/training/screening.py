"""The VALIDATING step: each pair tokenised with the base model's chat template, as
TRL will tokenise it, and checked against the max context length.

TRL cuts prompt + response at max_length, keeping the start. A pair whose prompt
alone fills the context loses its response entirely (TRL would drop it silently);
a pair whose two responses become the same tokens once cut teaches nothing and
makes the loss a constant. Both are skipped here, and named by line.
"""

import json
from collections import Counter
from dataclasses import dataclass, field

from datasets_app import histograms

MIN_USABLE_PAIRS = 3
TOKEN_PARTS = ("prompt_tokens", "preferred_tokens", "non_preferred_tokens")


@dataclass
class Screening:
    usable: list = field(default_factory=list)  # row indices to train on
    lengths: list = field(default_factory=list)  # tokens of each usable pair, cut
    truncated_lines: list = field(default_factory=list)
    skipped: list = field(default_factory=list)  # {"line", "reason"}
    longest: int = 0  # tokens of the longest prompt + response
    # Tokens of every pair screened, before any cut: {tokens: pairs} for each part.
    token_histograms: dict = field(
        default_factory=lambda: {name: Counter() for name in TOKEN_PARTS}
    )

    def token_stats(self):
        """{part: {min, max, mean, p50, p95}} of the tokens of each pair's parts."""
        return {
            name: histograms.summary(histogram)
            for name, histogram in self.token_histograms.items()
        }

    def summary(self, max_length):
        text = (
            f"{len(self.usable)} usable pairs; {len(self.truncated_lines)} exceed "
            f"max_context_length {max_length} and are cut at the end; longest "
            f"{self.longest} tokens."
        )
        if self.skipped:
            text += f" {len(self.skipped)} skipped (see the next event)."
        return text

    def data(self, limit=100):
        return {
            "usable": len(self.usable),
            "truncated": len(self.truncated_lines),
            "truncated_lines": self.truncated_lines[:limit],
            "skipped": self.skipped[:limit],
            "skipped_count": len(self.skipped),
            "longest_tokens": self.longest,
            "tokens": self.token_stats(),
        }


def screen_pairs(pairs, tokenizer, max_length, should_stop=lambda: False):
    """Check every row of an Arrow dataset with `line`, `prompt`, `chosen`,
    `rejected` and `tools` columns; `should_stop` lets a cancel end it early."""
    found = Screening()
    for index, row in enumerate(pairs):
        if index % 200 == 0 and should_stop():
            break
        prompt_len, chosen, rejected = _token_ids(tokenizer, row)
        for name, tokens in zip(
            TOKEN_PARTS, (prompt_len, len(chosen), len(rejected)), strict=True
        ):
            found.token_histograms[name][tokens] += 1
        longest = prompt_len + max(len(chosen), len(rejected))
        found.longest = max(found.longest, longest)
        if longest > max_length:
            found.truncated_lines.append(row["line"])

        room = max(0, max_length - prompt_len)  # response tokens that survive
        if room == 0:
            reason = (
                f"the prompt alone is {prompt_len} tokens, at least max_context_length "
                f"{max_length}: no response token is left"
            )
        elif chosen[:room] == rejected[:room]:
            reason = (
                "preferred and non-preferred outputs are the same tokens within "
                f"max_context_length {max_length}"
            )
        else:
            found.usable.append(index)
            found.lengths.append(min(longest, max_length))
            continue
        found.skipped.append({"line": row["line"], "reason": reason})
    return found


def _token_ids(tokenizer, row):
    """(prompt length, chosen response ids, rejected response ids), split where
    the prompt and the prompt + response token lists part, as TRL splits them."""
    tools = json.loads(row["tools"]) if row.get("tools") else None

    def ids(messages, **extra):
        rendered = tokenizer.apply_chat_template(
            messages, tools=tools, tokenize=True, **extra
        )
        return list(rendered["input_ids"] if hasattr(rendered, "keys") else rendered)

    prompt = ids(row["prompt"], add_generation_prompt=True)
    with_chosen = ids(row["prompt"] + row["chosen"])
    with_rejected = ids(row["prompt"] + row["rejected"])
    prompt_len = min(
        _common_prefix(prompt, with_chosen), _common_prefix(prompt, with_rejected)
    )
    return prompt_len, with_chosen[prompt_len:], with_rejected[prompt_len:]


def _common_prefix(a, b):
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n
