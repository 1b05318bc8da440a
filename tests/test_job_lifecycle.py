"""A job's life through real RQ worker processes, real Redis and the tiny model:
lost workers, resume from checkpoints, cancel, the pair check, evaluation, logs."""

import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from jobs_app import states
from jobs_app.lifecycle import cancel_job
from jobs_app.models import DpoJob, JobMetric
from jobs_app.reconcile import reconcile
from jobs_app.services import create_job
from tests.helpers import example
from tests.jobs_support import (
    QUICK,
    job_row,
    jsonl,
    kill_hard,
    owner_account,
    ready_dataset,
    start_worker,
    tiny_base,
    wait_for,
)

pytestmark = pytest.mark.django_db(transaction=True)


# 8 pairs, batch 2, 2 epochs: 8 steps, a checkpoint every 2 and at epoch ends.
def params(**changes):
    return QUICK.__class__(**{**QUICK.to_dict(), **changes})


LONG = params(epochs=2, checkpoint_steps=2)
# Slow enough that the test can act while the worker is mid-run.
SLOW_STEPS = {"DPO_STEP_DELAY_SECONDS": 0.4}


def new_job(owner, tiny_model_dir, params=QUICK, body=None, **kwargs):
    dataset = ready_dataset(owner, body=body)
    base = tiny_base(tiny_model_dir)
    return create_job(
        owner_account(owner), dataset, base, "tiny-tuned", params, user=owner, **kwargs
    )


def messages_of(job):
    return list(
        job.events.order_by("created_at", "id").values_list("message", flat=True)
    )


def test_a_job_whose_worker_is_killed_resumes_from_its_checkpoint_on_a_new_worker(
    owner, tiny_model_dir, redis_queues, run_worker
):
    job = new_job(owner, tiny_model_dir, LONG)
    worker = start_worker(**SLOW_STEPS)
    wait_for(
        lambda: job_row(job).step >= 3 and job.last_checkpoint(),
        what="a checkpoint and step 3",
    )

    horses = kill_hard(worker)
    # The next worker's reconciler sees the stale heartbeat and RQ's dead worker.
    time.sleep(settings.DPO_LOST_AFTER_SECONDS + 1)
    run_worker(["training"])

    job.refresh_from_db()
    assert horses, "the worker had no work horse to kill"
    assert job.state == states.COMPLETED, job.failure_reason
    assert job.attempts == 2
    assert job.step == job.total_steps == 8
    moves = messages_of(job)
    assert any(m.startswith("The worker running it was lost") for m in moves)
    assert any("attempt 2 of" in m for m in moves)
    resumed = [m for m in moves if m.startswith("Resuming from checkpoint-")]
    assert len(resumed) == 1
    assert 2 <= int(resumed[0].split("-")[1].rstrip(".")) < 8
    assert DpoJob.objects.get(pk=job.pk).fine_tuned_model is not None


def test_a_lost_job_that_has_used_up_its_attempts_fails_with_the_reason(
    owner, tiny_model_dir, redis_queues
):
    job = new_job(owner, tiny_model_dir)
    long_ago = timezone.now() - timedelta(minutes=5)
    DpoJob.objects.filter(pk=job.pk).update(
        state=states.RUNNING, attempts=settings.DPO_MAX_ATTEMPTS, heartbeat_at=long_ago
    )

    outcome = reconcile()

    job.refresh_from_db()
    assert outcome.failed == [job.job_id]
    assert job.state == states.FAILED
    assert "worker running it was lost" in job.failure_reason
    assert f"started {settings.DPO_MAX_ATTEMPTS} times" in job.failure_reason
    assert any("Not re-queued" in m for m in messages_of(job))


def test_the_reconciler_leaves_a_job_with_a_fresh_heartbeat_running(
    owner, tiny_model_dir, redis_queues
):
    job = new_job(owner, tiny_model_dir)
    DpoJob.objects.filter(pk=job.pk).update(
        state=states.RUNNING, attempts=1, heartbeat_at=timezone.now()
    )

    reconcile()

    assert job_row(job).state == states.RUNNING


def test_cancelling_a_running_job_stops_it_and_keeps_a_checkpoint(
    owner, owner_client, tiny_model_dir, redis_queues
):
    job = new_job(owner, tiny_model_dir, params(epochs=3, checkpoint_steps=0))
    worker = start_worker(burst=True, **SLOW_STEPS)
    wait_for(lambda: job_row(job).step >= 2, what="step 2")

    owner_client.post(f"/jobs/{job.job_id}/cancel/")
    worker.wait(timeout=120)

    job.refresh_from_db()
    assert job.state == states.CANCELLED
    assert job.step < job.total_steps
    checkpoint = job.last_checkpoint()
    assert checkpoint.name == f"checkpoint-{job.step}"  # saved where it stopped
    assert (checkpoint / "adapter_model.safetensors").exists()
    assert str(checkpoint) in messages_of(job)[-1]
    assert job.fine_tuned_model is None


def test_cancelling_a_pending_job_takes_it_off_the_queue(
    owner, tiny_model_dir, redis_queues
):
    job = new_job(owner, tiny_model_dir)
    assert redis_queues.llen("rq:queue:training") == 1

    done, _ = cancel_job(job)

    assert done
    assert job_row(job).state == states.CANCELLED
    assert redis_queues.llen("rq:queue:training") == 0


def pair(n, prompt, preferred, non_preferred):
    return example(f"{n}: {prompt}", preferred, non_preferred)


def test_the_check_before_training_skips_pairs_that_teach_nothing_naming_their_lines(
    owner, tiny_model_dir, run_worker
):
    long_prompt = "tell me about rivers " * 40  # far past 64 tokens
    same_start = "The answer is a long explanation " * 10
    rows = [pair(n, "What is 1 + 1?", "Two.", "Three.") for n in range(4)]
    rows.insert(1, pair(9, long_prompt, "Yes.", "No."))  # line 2
    rows.append(pair(8, "Explain.", same_start + "yes", same_start + "no"))  # line 6
    job = new_job(
        owner, tiny_model_dir, params(max_context_length=64), body=jsonl(rows)
    )

    run_worker(["training"])

    job.refresh_from_db()
    assert job.state == states.COMPLETED, job.failure_reason
    skipped = job.events.get(message__startswith="Skipped 2 pairs")
    assert "lines 2, 6" in skipped.message
    assert {s["line"] for s in skipped.data["skipped"]} == {2, 6}
    checked = job.events.get(message__startswith="Checked against the context")
    assert checked.data["usable"] == 4
    assert set(checked.data["truncated_lines"]) >= {2, 6}
    assert job.total_steps == 4  # 4 usable pairs / batch 2 x 2 epochs
    for metric in JobMetric.objects.filter(job=job):
        assert all(value == value for value in metric.values.values())  # no NaN


def test_a_job_with_fewer_than_three_usable_pairs_fails_with_their_lines(
    owner, tiny_model_dir, run_worker
):
    same = "Exactly the same words, every one of them. " * 10
    rows = [pair(n, "Say it.", same + "a", same + "b") for n in range(4)]
    rows.append(pair(7, "What is 1 + 1?", "Two.", "Three."))
    job = new_job(
        owner, tiny_model_dir, params(max_context_length=48), body=jsonl(rows)
    )

    run_worker(["training"])

    job.refresh_from_db()
    assert job.state == states.FAILED
    assert "Only 1 usable training pairs remain" in job.failure_reason
    for line in [1, 2, 3, 4]:
        assert f"line {line}:" in job.failure_reason
    assert "line 5:" not in job.failure_reason


def test_a_held_out_fraction_is_evaluated_and_its_curves_are_served(
    owner, owner_client, tiny_model_dir, run_worker
):
    job = new_job(owner, tiny_model_dir, params(eval_fraction=0.25, eval_steps=2))

    run_worker(["training"])

    job.refresh_from_db()
    assert job.state == states.COMPLETED, job.failure_reason
    assert job.total_steps == 6  # 6 training pairs / batch 2 x 2 epochs
    body = owner_client.get(f"/jobs/{job.job_id}/metrics.json").json()
    evaluated = [p for p in body["metrics"] if "eval_loss" in p]
    assert [p["step"] for p in evaluated] == [2, 4, 6]
    for point in evaluated:
        assert "eval_rewards/accuracies" in point
        assert "eval_rewards/margins" in point


def test_the_worker_writes_the_trainers_output_to_the_jobs_log_and_the_page_tails_it(
    owner, owner_client, tiny_model_dir, run_worker
):
    job = new_job(owner, tiny_model_dir)

    done = run_worker(["training"])

    log_text = job.log_path.read_text()
    assert f"job {job.job_id}: step 8/8" in log_text
    assert "gradient_checkpointing` is deprecated" not in log_text
    assert f"job {job.job_id}: step 8/8" not in done.stderr + done.stdout
    tail = owner_client.get(f"/jobs/{job.job_id}/log/").content.decode()
    assert f"job {job.job_id}: step 8/8" in tail


def test_the_job_page_shows_the_device_peak_memory_and_checkpoints(
    owner, owner_client, tiny_model_dir, run_worker
):
    job = new_job(owner, tiny_model_dir, params(epochs=3, checkpoints_kept=2))

    run_worker(["training"])

    job.refresh_from_db()
    assert job.peak_memory_bytes > 0
    # Epoch ends, the last 2 kept; none at step 12, the end: the adapter is saved.
    assert [step for step, _ in job.checkpoints()] == [4, 8]
    assert (job.adapter_path / "adapter_model.safetensors").exists()
    page = owner_client.get(f"/jobs/{job.job_id}/").content.decode()
    assert "Device cpu (CPU)" in page
    assert "peak memory" in page
    assert "checkpoint-4" in page
    assert "checkpoint-8" in page


def test_a_job_with_the_speed_options_on_trains_to_the_end(
    owner, tiny_model_dir, run_worker
):
    fast = params(precompute_ref_log_probs=True, length_grouped_batches=True)
    job = new_job(owner, tiny_model_dir, fast)

    run_worker(["training"])

    job.refresh_from_db()
    assert job.state == states.COMPLETED, job.failure_reason
    assert job.step == job.total_steps == 8
    assert "rewards/margins" in job.latest_metrics


def test_a_job_with_an_evaluation_dataset_is_evaluated_on_it(
    owner, tiny_model_dir, run_worker
):
    held_out = ready_dataset(
        owner,
        "held-out",
        body=jsonl([pair(n, "What is 3 + 3?", "Six.", "Seven.") for n in range(3)]),
    )
    job = new_job(owner, tiny_model_dir, params(eval_steps=2), eval_dataset=held_out)

    run_worker(["training"])

    job.refresh_from_db()
    assert job.state == states.COMPLETED, job.failure_reason
    assert job.total_steps == 8  # all 8 training pairs train; none held out
    evaluated = JobMetric.objects.filter(job=job, values__has_key="eval_loss")
    assert [m.step for m in evaluated] == [2, 4, 6, 8]
    assert "evaluating on 3" in " ".join(messages_of(job))
