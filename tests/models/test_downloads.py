"""Downloads: the adapter zip loads with PEFT, the merged zip with transformers
alone, and both answer as the served adapter does."""

import io
import zipfile

import pytest

from models_app.models import MergedExport
from tests.models.conftest import wait_until_done

pytestmark = pytest.mark.django_db(transaction=True)

PROMPT = [{"role": "user", "content": "Say something."}]


def unzip(response, folder):
    body = b"".join(response.streaming_content)
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        names = archive.namelist()
        archive.extractall(folder)
    return names


def greedy_tokens(model, tokenizer):
    import torch

    prompt = tokenizer.apply_chat_template(
        PROMPT, add_generation_prompt=True, return_tensors="pt"
    )["input_ids"]
    with torch.inference_mode():
        out = model.generate(
            input_ids=prompt,
            attention_mask=torch.ones_like(prompt),
            max_new_tokens=10,
            do_sample=False,
        )
    return out[0, prompt.shape[1] :].tolist()


def adapter_on_base(adapter_folder, base_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(base_path)
    return PeftModel.from_pretrained(base, adapter_folder)


def test_the_adapter_zip_holds_the_weights_config_and_tokenizer_and_loads(
    owner_client, tiny_adapter, tmp_path
):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    response = owner_client.get("/models/tiny-tuned/adapter.zip")

    assert response.status_code == 200
    assert "tiny-tuned-adapter.zip" in response["Content-Disposition"]
    names = unzip(response, tmp_path)
    folder = tmp_path / "tiny-tuned-adapter"
    for name in ["adapter_config.json", "adapter_model.safetensors", "tokenizer.json"]:
        assert f"tiny-tuned-adapter/{name}" in names
    tokenizer = AutoTokenizer.from_pretrained(folder)
    downloaded = greedy_tokens(
        adapter_on_base(folder, tiny_adapter.base.path), tokenizer
    )
    base_only = AutoModelForCausalLM.from_pretrained(tiny_adapter.base.path)
    assert downloaded == greedy_tokens(
        adapter_on_base(tiny_adapter.path, tiny_adapter.base.path), tokenizer
    )
    assert downloaded != greedy_tokens(base_only, tokenizer)


def test_merged_weights_are_made_in_a_worker_and_load_without_peft(
    owner_client, tiny_adapter, background_worker, tmp_path
):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    owner_client.post("/models/tiny-tuned/merged/")
    background_worker.start("default")
    export = wait_until_done(MergedExport.objects.get(), background_worker)
    assert export.state == MergedExport.COMPLETED, export.failure_reason

    response = owner_client.get(f"/models/tiny-tuned/merged/{export.pk}.zip")

    assert response.status_code == 200
    names = unzip(response, tmp_path)
    folder = tmp_path / "tiny-tuned-merged"
    assert "tiny-tuned-merged/model.safetensors" in names
    assert not any(name.endswith("adapter_config.json") for name in names)
    merged = AutoModelForCausalLM.from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    with_adapter = adapter_on_base(tiny_adapter.path, tiny_adapter.base.path)
    assert greedy_tokens(merged, tokenizer) == greedy_tokens(with_adapter, tokenizer)
    assert export.size_bytes == export.zip_path.stat().st_size
