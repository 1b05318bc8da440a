"""Packaging a fine-tuned model for download: the adapter as it is, or merged
into full weights that load without PEFT."""

import shutil
import tempfile
import zipfile
from pathlib import Path

# Files a PEFT adapter folder holds that a user needs; checkpoints and logs are not.
ADAPTER_FILES = ["adapter_config.json", "adapter_model.safetensors", "README.md"]
TOKENIZER_FILES = [
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "chat_template.jinja",
    "generation_config.json",
]


def adapter_files(adapter_dir):
    """[(path, size)] of what the adapter download holds, in a stable order."""
    folder = Path(adapter_dir)
    found = []
    for name in ADAPTER_FILES + TOKENIZER_FILES:
        path = folder / name
        if path.is_file():
            found.append((path, path.stat().st_size))
    return found


def write_adapter_zip(adapter_dir, target, top_folder):
    """Zip the adapter (safetensors, config, tokenizer) under `top_folder/`."""
    with zipfile.ZipFile(target, "w") as archive:
        for path, _ in adapter_files(adapter_dir):
            archive.write(path, f"{top_folder}/{path.name}", _method(path))


def merge_to_zip(adapter_dir, base_path, target, top_folder):
    """Merge the adapter into its base with PEFT and zip the full model folder.

    The weights are saved in the base's own precision (fp32 for the default
    model on CPU), so the merged model answers like the served adapter.
    """
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = AutoModelForCausalLM.from_pretrained(base_path, dtype="auto")
    merged = PeftModel.from_pretrained(base, adapter_dir).merge_and_unload()
    tokenizer = AutoTokenizer.from_pretrained(adapter_dir)

    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        folder = Path(scratch) / top_folder
        merged.save_pretrained(folder, safe_serialization=True)
        tokenizer.save_pretrained(folder)

        staged = Path(scratch) / "merged.zip"
        with zipfile.ZipFile(staged, "w") as archive:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(scratch), _method(path))
        # A half-written zip must never be offered: move it in whole.
        shutil.move(staged, target)
    return target.stat().st_size


def _method(path):
    # Weights hardly compress; deflating them costs time for a few percent.
    if path.suffix == ".safetensors":
        return zipfile.ZIP_STORED
    return zipfile.ZIP_DEFLATED
