"""Datasets over the API: the hosted platforms' two-step flow (create the entry,
then `:upload` the file), a tus URL for large files, and the validation report."""

import os
import secrets
import shutil

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.db import transaction
from django.http import JsonResponse
from django.http.multipartparser import MultiPartParserError

from datasets_app.models import Dataset
from datasets_app.services import create_dataset, take_file
from dpo_portal.api.endpoint import is_finite_number, json_body, page
from dpo_portal.api.errors import ApiError
from dpo_portal.api.shapes import dataset_shape
from dpo_portal.files import safe_file_name
from jobs_app import states

UPLOAD_FIELD = "file"
TUS_CHUNK_BYTES = 8 * 1024 * 1024


def _dataset(account, dataset_id):
    dataset = (
        Dataset.objects.select_related("account")
        .filter(account=account, dataset_id=dataset_id)
        .first()
    )
    if dataset is None:
        raise ApiError("NOT_FOUND", f"Dataset {dataset_id!r} not found in {account}.")
    return dataset


def list_datasets(request, account):
    datasets = Dataset.objects.filter(account=account).select_related("account")
    state = request.GET.get("state", "")
    if state:
        if state not in dict(Dataset.STATES):
            raise ApiError(
                "INVALID_ARGUMENT",
                f"state is {state[:40]!r}; accepted: "
                + ", ".join(dict(Dataset.STATES)),
            )
        datasets = datasets.filter(state=state)
    return page(
        request, datasets.order_by("-created_at", "-pk"), "datasets", dataset_shape
    )


def create(request, account):
    body = json_body(request)
    dataset_id = body.get("datasetId")
    spec = body.get("dataset", {})
    if not isinstance(dataset_id, str):
        raise ApiError(
            "INVALID_ARGUMENT",
            "datasetId is required: the new dataset's ID.",
            [{"field": "datasetId", "message": "required string"}],
        )
    if not isinstance(spec, dict):
        raise ApiError("INVALID_ARGUMENT", "dataset must be an object.")

    display_name = spec.get("displayName", "")
    declared = spec.get("exampleCount")
    if not isinstance(display_name, str) or len(display_name) > 200:
        raise ApiError(
            "INVALID_ARGUMENT",
            "dataset.displayName must be a string of at most 200 characters.",
            [{"field": "dataset.displayName", "message": "string, 200 characters"}],
        )
    if declared is not None and not _is_count(declared):
        raise ApiError(
            "INVALID_ARGUMENT",
            f"dataset.exampleCount is {str(declared)[:40]!r}; use a whole number "
            "from 1 to 10^12, or leave it out.",
            [{"field": "dataset.exampleCount", "message": "whole number"}],
        )

    try:
        dataset = create_dataset(
            account, dataset_id, display_name, user=request.user, declared=declared
        )
    except ValidationError as exc:
        code = "ALREADY_EXISTS" if exc.code == "exists" else "INVALID_ARGUMENT"
        details = [{"field": "datasetId", "message": m} for m in exc.messages]
        raise ApiError(code, " ".join(exc.messages), details) from None
    return JsonResponse(dataset_shape(dataset))


def _is_count(value):
    return is_finite_number(value) and isinstance(value, int) and 1 <= value <= 10**12


def get(request, account, dataset_id):
    return JsonResponse(dataset_shape(_dataset(account, dataset_id)))


def delete(request, account, dataset_id):
    dataset = _dataset(account, dataset_id)
    with transaction.atomic():
        jobs = list(dataset.jobs.values_list("job_id", "state"))
        active = [job_id for job_id, state in jobs if state in states.ACTIVE]
        if active:
            raise ApiError(
                "FAILED_PRECONDITION",
                f"Dataset {dataset_id} is used by active job(s) "
                f"{', '.join(active[:10])}; cancel them or wait for them to end.",
            )
        if jobs:
            raise ApiError(
                "FAILED_PRECONDITION",
                f"Dataset {dataset_id} is the training set of finished job(s) "
                f"{', '.join(j for j, _ in jobs[:10])}; delete those jobs first.",
            )
        parts = [upload.part_path for upload in dataset.uploads.all()]
        folder = dataset.folder
        dataset.delete()

    for part in parts:
        part.unlink(missing_ok=True)
    shutil.rmtree(folder, ignore_errors=True)
    return JsonResponse({})


def upload(request, account, dataset_id):
    """`:upload`: the file as the multipart field `file`, streamed to a temporary
    file on disk (never held in memory), then handed to validation."""
    dataset = _dataset(account, dataset_id)
    _check_takes_file(dataset)
    length = _content_length(request)
    limit = settings.DPO_API_UPLOAD_MAX_BYTES
    if length > limit:
        raise ApiError(
            "PAYLOAD_TOO_LARGE",
            f"The upload is {length} bytes; the API takes at most {limit} bytes.",
        )
    if not request.content_type.startswith("multipart/form-data"):
        raise ApiError(
            "UNSUPPORTED_MEDIA_TYPE",
            f"Send multipart/form-data with the file in the field {UPLOAD_FIELD!r}.",
        )

    request.upload_handlers = [TemporaryFileUploadHandler(request)]
    try:
        received = request.FILES.get(UPLOAD_FIELD)
    except MultiPartParserError as exc:
        raise ApiError(
            "INVALID_ARGUMENT", f"The multipart body is broken: {exc}."
        ) from None
    if received is None:
        raise ApiError(
            "INVALID_ARGUMENT",
            f"No file in the multipart field {UPLOAD_FIELD!r}.",
            [{"field": UPLOAD_FIELD, "message": "required file"}],
        )
    if received.size == 0:
        raise ApiError(
            "INVALID_ARGUMENT", "The file is empty; a dataset needs examples."
        )

    # Into the data folder first: take_file renames, which needs one filesystem.
    staged = settings.DATA_DIR / "uploads" / f"api-{secrets.token_hex(16)}.part"
    staged.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(received.temporary_file_path(), staged)
    try:
        dataset = take_file(dataset, staged, safe_file_name(received.name))
    finally:
        if staged.exists():
            os.unlink(staged)
    return JsonResponse(dataset_shape(dataset))


def upload_endpoint(request, account, dataset_id):
    """`:getUploadEndpoint`: where and how to send a large file with tus."""
    dataset = _dataset(account, dataset_id)
    _check_takes_file(dataset)
    body = json_body(request) if request.body else {}
    metadata = {"dataset": dataset.dataset_id, "account": account.account_id}
    file_name = body.get("fileName")
    if isinstance(file_name, str) and file_name:
        metadata["filename"] = safe_file_name(file_name)

    return JsonResponse(
        {
            "dataset": dataset.name,
            "protocol": "tus",
            "tusResumable": "1.0.0",
            "uploadUrl": request.build_absolute_uri("/uploads/"),
            "metadata": metadata,
            "headers": {"Authorization": "Bearer <your API key>"},
            "maxBytes": settings.DPO_API_UPLOAD_MAX_BYTES,
            "chunkBytes": TUS_CHUNK_BYTES,
        }
    )


def validation_report(request, account, dataset_id):
    dataset = _dataset(account, dataset_id)
    finished = dataset.state in (Dataset.STATE_READY, Dataset.STATE_INVALID)
    return JsonResponse(
        {
            "dataset": dataset.name,
            "state": dataset.state,
            "valid": dataset.state == Dataset.STATE_READY if finished else None,
            "validationError": dataset.validation_error,
            "report": dataset.report,
            "tokenStats": dataset.token_stats,
        }
    )


def _check_takes_file(dataset):
    if dataset.state != Dataset.STATE_UPLOADING:
        raise ApiError(
            "FAILED_PRECONDITION",
            f"Dataset {dataset.dataset_id} is {dataset.state}; only a dataset in "
            "UPLOADING takes a file. Create a new dataset for a new file.",
        )


def _content_length(request):
    raw = request.META.get("CONTENT_LENGTH") or "0"
    if not (raw.isascii() and raw.isdigit()):
        raise ApiError("INVALID_ARGUMENT", "Content-Length must be a whole number.")
    return int(raw)
