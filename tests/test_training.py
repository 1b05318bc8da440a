"""Whole runs through real RQ worker processes, real Redis and a tiny real model."""

import hashlib
import json

import pytest

from datasets_app.models import Dataset
from dpo_portal.accounts import personal_account
from jobs_app import states
from jobs_app.models import DpoJob, JobMetric, LanguageModel
from jobs_app.params import DpoParams
from jobs_app.services import create_job
from tests.helpers import jsonl_bytes, new_dataset, tus_create, tus_patch
from tests.jobs_support import tiny_base

pytestmark = pytest.mark.django_db(transaction=True)

QUICK = DpoParams(
    epochs=2,
    learning_rate=1e-3,
    batch_size=2,
    max_context_length=128,
    lora_rank=4,
    lora_alpha=8,
    warmup_ratio=0.0,
)


def uploaded_dataset(client, user, body):
    new_dataset(user)
    location = tus_create(client, "prefs", len(body))["Location"]
    assert tus_patch(client, location, 0, body).status_code == 204
    return Dataset.objects.get(dataset_id="prefs")


def file_digests(folder):
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.iterdir())
        if path.is_file()
    }


def test_the_worker_validates_an_uploaded_dataset(owner_client, owner, run_worker):
    dataset = uploaded_dataset(owner_client, owner, jsonl_bytes(8))

    run_worker(["default"])

    dataset.refresh_from_db()
    assert dataset.state == Dataset.STATE_READY
    assert dataset.example_count == 8
    assert dataset.report["valid"] is True
    assert dataset.validation_bytes_done == dataset.size_bytes
    assert len(dataset.sha256) == 64


def test_the_worker_marks_a_broken_dataset_invalid_with_its_lines(
    owner_client, owner, run_worker
):
    body = jsonl_bytes(5) + b'{"input": {"messages": []}}\n' + b"not json\n"
    dataset = uploaded_dataset(owner_client, owner, body)

    run_worker(["default"])

    dataset.refresh_from_db()
    assert dataset.state == Dataset.STATE_INVALID
    assert {error["line"] for error in dataset.report["errors"]} >= {6, 7}
    page = owner_client.get("/datasets/prefs/").content.decode()
    assert "Invalid" in page
    assert "not json" not in page or "line" in page.lower()


def test_a_job_trains_an_adapter_and_leaves_the_base_untouched(
    owner_client, owner, run_worker, tiny_model_dir
):
    dataset = uploaded_dataset(owner_client, owner, jsonl_bytes(8))
    run_worker(["default"])
    dataset.refresh_from_db()
    base = tiny_base(tiny_model_dir)
    base_before = file_digests(tiny_model_dir)

    job = create_job(
        personal_account(owner), dataset, base, "tiny-tuned", QUICK, user=owner
    )
    run_worker(["training"])

    job.refresh_from_db()
    assert job.state == states.COMPLETED, job.failure_reason
    assert job.total_steps == 8  # 8 pairs / batch 2 x 2 epochs
    assert job.step == job.total_steps
    assert job.heartbeat_at is not None
    assert job.device.startswith("cpu")

    logged = JobMetric.objects.filter(job=job)
    assert logged.count() >= job.total_steps
    assert all("loss" in m.values for m in logged if "train_runtime" not in m.values)
    assert "rewards/accuracies" in job.latest_metrics
    assert "rewards/margins" in job.latest_metrics

    assert_adapter_trained(job.adapter_path)
    assert file_digests(tiny_model_dir) == base_before

    model = job.fine_tuned_model
    assert model.model_id == "tiny-tuned"
    assert model.kind == LanguageModel.KIND_FINE_TUNED
    assert model.base == base
    moves = list(job.events.values_list("message", flat=True))
    assert moves[-1].startswith("Completed")

    assert_tokens_counted(dataset, base, tiny_model_dir)
    for page in (f"/datasets/{dataset.dataset_id}/", f"/jobs/{job.job_id}/"):
        html = owner_client.get(page).content.decode()
        assert "Prompt tokens" in html and base.name in html, page


def assert_tokens_counted(dataset, base, model_dir):
    """The job's VALIDATING step left the token lengths of the set, per the base
    model's chat template, on the dataset."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    rows = [json.loads(line) for line in dataset.file_path.read_text().splitlines()]
    prompts = [
        len(
            tokenizer.apply_chat_template(
                row["input"]["messages"], add_generation_prompt=True, tokenize=True
            )["input_ids"]
        )
        for row in rows
    ]

    dataset.refresh_from_db()
    counted = dataset.token_stats[base.name]
    assert counted["pairs"] == len(rows)
    assert (counted["prompt_tokens"]["min"], counted["prompt_tokens"]["max"]) == (
        min(prompts),
        max(prompts),
    )
    for part in ("preferred_tokens", "non_preferred_tokens"):
        summary = counted[part]
        assert 0 < summary["min"] <= summary["p50"] <= summary["p95"] <= summary["max"]


def assert_adapter_trained(adapter_dir):
    from safetensors.torch import load_file

    weights = load_file(adapter_dir / "adapter_model.safetensors")
    lora_b = [tensor for name, tensor in weights.items() if "lora_B" in name]
    assert lora_b, sorted(weights)[:5]
    # PEFT starts every B matrix at zero: any non-zero value is learnt.
    assert any(tensor.abs().sum() > 0 for tensor in lora_b)
    assert (adapter_dir / "adapter_config.json").exists()


def test_a_job_whose_base_model_is_missing_fails_with_a_reason(
    owner_client, owner, run_worker, tmp_path
):
    dataset = uploaded_dataset(owner_client, owner, jsonl_bytes(4))
    run_worker(["default"])
    dataset.refresh_from_db()
    base = tiny_base(tmp_path / "missing-model")

    job = create_job(personal_account(owner), dataset, base, "never", QUICK, user=owner)
    run_worker(["training"])

    job.refresh_from_db()
    assert job.state == states.FAILED
    assert "missing-model" in job.failure_reason
    assert job.finished_at is not None
    assert not LanguageModel.objects.filter(model_id="never").exists()


def test_a_pending_job_is_queued_on_the_training_queue_after_commit(
    owner, tiny_model_dir, redis_queues
):
    dataset = new_dataset(owner)
    Dataset.objects.filter(pk=dataset.pk).update(state=Dataset.STATE_READY)
    dataset.refresh_from_db()

    job = create_job(
        personal_account(owner), dataset, tiny_base(tiny_model_dir), "t", QUICK
    )

    job.refresh_from_db()
    assert job.state == states.PENDING
    assert job.rq_job_id == f"dpo-job-{job.pk}"
    assert redis_queues.llen("rq:queue:training") == 1


def test_a_cancelled_pending_job_never_runs(
    owner_client, owner, tiny_model_dir, run_worker
):
    dataset = new_dataset(owner)
    Dataset.objects.filter(pk=dataset.pk).update(state=Dataset.STATE_READY)
    dataset.refresh_from_db()
    job = create_job(
        personal_account(owner), dataset, tiny_base(tiny_model_dir), "t", QUICK
    )

    owner_client.post(f"/jobs/{job.job_id}/cancel/")
    run_worker(["training"])

    job.refresh_from_db()
    assert job.state == states.CANCELLED
    assert job.started_at is None
    assert DpoJob.objects.get().fine_tuned_model is None


def test_a_job_warm_started_from_a_fine_tuned_model_trains_its_adapter_on(
    owner_client, owner, run_worker, tiny_model_dir
):
    from safetensors.torch import load_file

    dataset = uploaded_dataset(owner_client, owner, jsonl_bytes(8))
    run_worker(["default"])
    dataset.refresh_from_db()
    base = tiny_base(tiny_model_dir)
    account = personal_account(owner)
    first = create_job(account, dataset, base, "tiny-first", QUICK, user=owner)
    run_worker(["training"])
    first.refresh_from_db()
    earlier = first.fine_tuned_model

    second = create_job(account, dataset, earlier, "tiny-second", QUICK, user=owner)
    run_worker(["training"])

    second.refresh_from_db()
    assert second.state == states.COMPLETED, second.failure_reason
    assert second.events.filter(message__startswith="Warm start from").exists()
    later = second.fine_tuned_model
    # The new adapter runs on the first one's base, and learnt on from it.
    assert later.base == base
    before = load_file(first.adapter_path / "adapter_model.safetensors")
    after = load_file(second.adapter_path / "adapter_model.safetensors")
    assert before.keys() == after.keys()
    assert any((before[name] - after[name]).abs().sum() > 0 for name in before)
