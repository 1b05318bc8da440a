"""Models over the API: the account's fine-tuned adapters and the shared base
models it may train on."""

import shutil
from pathlib import Path

from django.conf import settings
from django.db.models import Q
from django.http import JsonResponse

from dpo_portal.api.endpoint import page
from dpo_portal.api.errors import ApiError
from dpo_portal.api.shapes import model_shape
from jobs_app.models import LanguageModel


def _visible(account):
    return LanguageModel.objects.filter(
        Q(account=account) | Q(account__isnull=True)
    ).select_related("account", "base__account", "made_by_job__account")


def _model(account, model_id):
    # The account's own model comes before a shared one of the same ID.
    models = _visible(account).filter(model_id=model_id)
    model = models.filter(account=account).first() or models.first()
    if model is None:
        raise ApiError("NOT_FOUND", f"Model {model_id!r} not found in {account}.")
    return model


def list_models(request, account):
    models = _visible(account).order_by("kind", "model_id", "pk")
    return page(request, models, "models", model_shape)


def get(request, account, model_id):
    return JsonResponse(model_shape(_model(account, model_id)))


def delete(request, account, model_id):
    model = _model(account, model_id)
    if model.account_id is None:
        raise ApiError(
            "PERMISSION_DENIED",
            f"{model.name} is a shared base model; an operator removes those.",
        )
    users = list(model.jobs.values_list("job_id", flat=True)[:10])
    tuned = list(model.tuned.values_list("model_id", flat=True)[:10])
    if users or tuned:
        raise ApiError(
            "FAILED_PRECONDITION",
            f"Model {model_id} is the base of job(s) {', '.join(users) or '-'} and "
            f"model(s) {', '.join(tuned) or '-'}; delete those first.",
        )

    path = Path(model.path).resolve()
    model.delete()
    # Only ever remove files inside this account's own folder.
    account_folder = (settings.DATA_DIR / "accounts" / account.account_id).resolve()
    if path.is_relative_to(account_folder) and path != account_folder:
        shutil.rmtree(path, ignore_errors=True)
    return JsonResponse({})
