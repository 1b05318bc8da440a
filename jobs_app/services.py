"""Creating DPO jobs: checks shared by the form, the demo and the API."""

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from datasets_app.models import Dataset
from dpo_portal.ids import check_resource_id, generate_id
from dpo_portal.queues import enqueue_on_commit
from jobs_app import states
from jobs_app.models import DpoJob, LanguageModel
from jobs_app.params import DpoParams


def create_job(
    account,
    dataset,
    base_model,
    output_model_id,
    params,
    user=None,
    job_id=None,
    eval_dataset=None,
    queue=None,
):
    """Save a PENDING job and enqueue it on its training queue once saved.

    `queue` is one of settings.DPO_TRAINING_QUEUES (the first when not given).
    Raises ValidationError with a {field: message} dict naming what is wrong.
    When Redis is down the job stays PENDING and the reconciler enqueues it later.
    """
    job_id = job_id or generate_id("dpo")
    queue = queue or settings.DPO_TRAINING_QUEUES[0]
    problems = _problems(account, dataset, base_model, output_model_id, params, job_id)
    if eval_dataset is not None:
        problems.pop("eval_steps", None)  # the evaluation dataset is what it needs
        problems.update(_eval_dataset_problems(account, eval_dataset))
    if queue not in settings.DPO_TRAINING_QUEUES:
        problems["queue"] = (
            f"Queue {queue!r} is not a training queue here; accepted: "
            f"{', '.join(settings.DPO_TRAINING_QUEUES)}."
        )
    if problems:
        raise ValidationError(problems)

    with transaction.atomic():
        job = DpoJob.objects.create(
            account=account,
            job_id=job_id,
            dataset=dataset,
            base_model=base_model,
            output_model_id=output_model_id,
            eval_dataset=eval_dataset,
            params=params.to_dict(),
            queue=queue,
            created_by=user,
        )
        job.events.create(message=f"Job created by {user or 'the system'}; queued.")
        enqueue_training(job)
    return job


def enqueue_training(job):
    """Put the job on its queue after commit. A job enqueued again (re-queued after
    a lost worker, retried, found missing from Redis) gets a fresh RQ ID, so RQ's
    leftovers of an earlier run can never be mistaken for the new one."""
    rq_id = f"dpo-job-{job.pk}"
    if job.rq_job_id:
        rq_id = f"dpo-job-{job.pk}-{secrets.token_hex(4)}"

    def remember(rq_job):
        job.rq_job_id = rq_job.id
        DpoJob.objects.filter(pk=job.pk).update(rq_job_id=rq_job.id)

    enqueue_on_commit(
        job.queue,
        "jobs_app.tasks.run_dpo_job",
        job.pk,
        job_id=rq_id,
        on_enqueued=remember,
    )


def _problems(account, dataset, base_model, output_model_id, params, job_id):
    found = {}
    try:
        check_resource_id(job_id, "Job ID")
    except ValidationError as exc:
        found["job_id"] = exc.messages[0]
    if DpoJob.objects.filter(account=account, job_id=job_id).exists():
        found["job_id"] = f"Job ID {job_id!r} is already used in this account."

    if dataset.account_id != account.pk:
        found["dataset"] = "The dataset belongs to another account."
    elif dataset.state != Dataset.STATE_READY:
        found["dataset"] = (
            f"Dataset {dataset.dataset_id} is {dataset.state}; only a READY dataset "
            "can be trained on."
        )

    if base_model.account_id not in (None, account.pk):
        found["base_model"] = "The base model belongs to another account."

    try:
        check_resource_id(output_model_id, "Output model ID")
    except ValidationError as exc:
        found["output_model_id"] = exc.messages[0]
    else:
        if _output_model_taken(account, output_model_id):
            found["output_model_id"] = (
                f"Output model ID {output_model_id!r} is already a model, or the "
                "output of an active job, in this account; choose another."
            )

    found.update(params.problems(base_model.context_length))
    return found


def _eval_dataset_problems(account, eval_dataset):
    if eval_dataset.account_id != account.pk:
        return {"eval_dataset": "The evaluation dataset belongs to another account."}
    if eval_dataset.state != Dataset.STATE_READY:
        return {
            "eval_dataset": (
                f"Dataset {eval_dataset.dataset_id} is {eval_dataset.state}; only a "
                "READY dataset can be evaluated on."
            )
        }
    return {}


def suggested_output_model_id(account, dataset):
    """`<dataset>-dpo`, or with -2, -3, ... the first one free in the account."""
    stem = f"{dataset.dataset_id}"[:50].rstrip("-") + "-dpo"
    for number in range(1, 1000):
        candidate = stem if number == 1 else f"{stem}-{number}"
        if not _output_model_taken(account, candidate):
            return candidate
    return f"{stem}-{generate_id('m')[-8:]}"


def _output_model_taken(account, output_model_id):
    if LanguageModel.objects.filter(account=account, model_id=output_model_id).exists():
        return True
    return DpoJob.objects.filter(
        account=account, output_model_id=output_model_id, state__in=states.ACTIVE
    ).exists()


def default_params():
    return DpoParams()
