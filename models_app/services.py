"""Deploying and undeploying models, and starting the worker jobs on them."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from datasets_app.models import Dataset
from dpo_portal.queues import enqueue_on_commit
from jobs_app.models import LanguageModel
from models_app import inference
from models_app.models import Deployment, MergedExport, PreferenceCheck


def deploy(account, model, user=None):
    """Start serving `model` for `account`; the serving process marks it READY."""
    try:
        with transaction.atomic():
            deployment = Deployment.objects.create(
                account=account, model=model, created_by=user
            )
    except IntegrityError:
        raise ValidationError(
            f"{model.name} is already deployed (or deploying) in this account."
        ) from None

    base = deployment.base
    transaction.on_commit(lambda: start_serving(base))
    return deployment


def start_serving(base):
    """Make sure a serving process for `base` runs or is queued, and wake it.

    Safe to call again: a running or queued server is not queued twice."""
    inference.ensure_server(base)
    inference.nudge(base)


def undeploy(deployment):
    """Stop serving; the serving process drops the adapter, and exits when it
    held nothing else, which frees the memory."""
    ended = Deployment.objects.filter(
        pk=deployment.pk, state__in=Deployment.ACTIVE
    ).update(state=Deployment.UNDEPLOYED, ended_at=timezone.now())
    if ended:
        base = deployment.base
        transaction.on_commit(lambda: inference.nudge(base))
    return bool(ended)


def active_deployment(account, model):
    return (
        Deployment.objects.filter(
            account=account, model=model, state__in=Deployment.ACTIVE
        )
        .select_related("model", "model__base")
        .first()
    )


def default_beta(model):
    """The beta the model was trained with, so rewards read as in training."""
    job = getattr(model, "made_by_job", None)
    if job is not None and job.params.get("beta"):
        return float(job.params["beta"])
    return 0.1


def start_preference_check(account, model, dataset, user=None, max_examples=1000):
    problems = {}
    if model.kind != LanguageModel.KIND_FINE_TUNED:
        problems["model"] = (
            "A preference check compares a fine-tuned model to its base."
        )
    if dataset.account_id != account.pk:
        problems["dataset"] = "The dataset belongs to another account."
    elif dataset.state != Dataset.STATE_READY:
        problems["dataset"] = (
            f"Dataset {dataset.dataset_id} is {dataset.state}; only a READY dataset "
            "can be checked."
        )
    if not 1 <= max_examples <= 100_000:
        problems["max_examples"] = (
            f"max_examples is {max_examples}; it must be between 1 and 100000."
        )
    if problems:
        raise ValidationError(problems)

    with transaction.atomic():
        check = PreferenceCheck.objects.create(
            account=account,
            model=model,
            dataset=dataset,
            beta=default_beta(model),
            max_examples=max_examples,
            created_by=user,
        )
        # Forward passes over a dataset: GPU work, like training.
        enqueue_on_commit("training", "models_app.tasks.run_preference_check", check.pk)
    return check


def start_merge(account, model, user=None):
    if model.kind != LanguageModel.KIND_FINE_TUNED:
        raise ValidationError("Only a fine-tuned model has an adapter to merge.")

    with transaction.atomic():
        export = MergedExport.objects.create(
            account=account, model=model, created_by=user
        )
        # Merging is one pass over the weights; the CPU does it well enough.
        enqueue_on_commit("default", "models_app.tasks.run_merge", export.pk)
    return export
