"""Creating DPO jobs: checks shared by the form, the demo and the API."""

from django.core.exceptions import ValidationError
from django.db import transaction

from datasets_app.models import Dataset
from dpo_portal.ids import check_resource_id, generate_id
from dpo_portal.queues import enqueue_on_commit
from jobs_app import states
from jobs_app.models import DpoJob, LanguageModel
from jobs_app.params import DpoParams


def create_job(
    account, dataset, base_model, output_model_id, params, user=None, job_id=None
):
    """Save a PENDING job and enqueue it on `training` once saved.

    Raises ValidationError with a {field: message} dict naming what is wrong.
    """
    job_id = job_id or generate_id("dpo")
    problems = _problems(account, dataset, base_model, output_model_id, params, job_id)
    if problems:
        raise ValidationError(problems)

    with transaction.atomic():
        job = DpoJob.objects.create(
            account=account,
            job_id=job_id,
            dataset=dataset,
            base_model=base_model,
            output_model_id=output_model_id,
            params=params.to_dict(),
            created_by=user,
        )
        job.events.create(message=f"Job created by {user or 'the system'}; queued.")
        enqueue_training(job)
    return job


def enqueue_training(job):
    rq_id = f"dpo-job-{job.pk}"

    def remember(rq_job):
        DpoJob.objects.filter(pk=job.pk).update(rq_job_id=rq_job.id)

    enqueue_on_commit(
        "training",
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


def _output_model_taken(account, output_model_id):
    if LanguageModel.objects.filter(account=account, model_id=output_model_id).exists():
        return True
    return DpoJob.objects.filter(
        account=account, output_model_id=output_model_id, state__in=states.ACTIVE
    ).exists()


def default_params():
    return DpoParams()
