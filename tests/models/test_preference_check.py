"""The preference check: tuned model against its base on a READY dataset."""

import pytest

from dpo_portal.accounts import personal_account
from jobs_app import states
from jobs_app.models import DpoJob
from jobs_app.params import DpoParams
from jobs_app.services import create_job
from jobs_app.training.data import read_pairs
from models_app import services
from models_app.models import PreferenceCheck
from models_app.preference import check_preferences
from tests.models.conftest import ready_dataset, wait_for, wait_until_done

pytestmark = pytest.mark.django_db(transaction=True)

# Strong enough to overfit eight pairs in a few steps of a tiny model.
OVERFIT = DpoParams(
    epochs=2,
    learning_rate=1e-2,
    batch_size=4,
    max_context_length=128,
    lora_rank=4,
    lora_alpha=8,
    lora_dropout=0.0,
    warmup_ratio=0.0,
)


def test_a_dpo_trained_adapter_prefers_the_preferred_answers_it_learnt(
    owner, tiny_base, background_worker
):
    dataset = ready_dataset(owner)
    job = create_job(
        personal_account(owner), dataset, tiny_base, "learnt", OVERFIT, user=owner
    )
    background_worker.start("training")
    wait_for(lambda: DpoJob.objects.get(pk=job.pk).state in states.FINAL, "the job")
    job.refresh_from_db()
    assert job.state == states.COMPLETED, job.failure_reason

    check = services.start_preference_check(
        job.account, job.fine_tuned_model, dataset, user=owner
    )

    check = wait_until_done(check, background_worker)
    assert check.state == PreferenceCheck.COMPLETED, check.failure_reason
    assert check.result["examples"] == 8 and check.done == check.total == 8
    assert check.beta == OVERFIT.beta
    assert check.result["rewards/margins"] > 0
    assert check.result["tuned_accuracy"] > check.result["base_accuracy"]


def test_the_check_agrees_with_log_likelihoods_from_the_model_loss(owner, tiny_adapter):
    dataset = ready_dataset(owner, count=6)
    seen = []

    result = check_preferences(
        tiny_adapter.path,
        tiny_adapter.base.path,
        dataset.file_path,
        0.5,
        100,
        lambda done, total: seen.append((done, total)),
    )

    tuned, base = loss_log_likelihoods(tiny_adapter, dataset.file_path)
    margins = [
        0.5 * ((t[0] - b[0]) - (t[1] - b[1])) for t, b in zip(tuned, base, strict=True)
    ]
    assert result["examples"] == 6 and seen[-1] == (6, 6)
    assert result["tuned_accuracy"] == sum(m > 0 for m in margins) / 6
    assert result["base_accuracy"] == sum(b[0] > b[1] for b in base) / 6
    assert result["rewards/margins"] == pytest.approx(sum(margins) / 6, abs=1e-4)


def loss_log_likelihoods(adapter_model, jsonl_path):
    """[(log p(chosen), log p(rejected))] per pair, for the tuned and the base
    model, from transformers' own loss with the prompt masked out."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(adapter_model.path)
    base = AutoModelForCausalLM.from_pretrained(adapter_model.base.path)
    model = PeftModel.from_pretrained(base, adapter_model.path).eval()

    def log_likelihood(prompt, answer):
        prompt_ids = tokenizer.apply_chat_template(prompt, add_generation_prompt=True)
        full = tokenizer.apply_chat_template(prompt + answer, return_tensors="pt")
        ids = full["input_ids"]
        labels = ids.clone()
        labels[:, : len(prompt_ids["input_ids"])] = -100
        answer_tokens = (labels[:, 1:] != -100).sum().item()
        return -model(input_ids=ids, labels=labels).loss.item() * answer_tokens

    tuned, reference = [], []
    with torch.inference_mode():
        for pair in read_pairs(jsonl_path):
            sides = [pair["chosen"], pair["rejected"]]
            tuned.append([log_likelihood(pair["prompt"], s) for s in sides])
            with model.disable_adapter():
                reference.append([log_likelihood(pair["prompt"], s) for s in sides])
    return tuned, reference
