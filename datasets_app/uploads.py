"""The resumable upload endpoint: the tus 1.0 protocol (core, creation, termination,
expiration), so the wizard's client and any tus client can send large files in
chunks and resume where they stopped.

Each PATCH body is streamed to the partial file in small pieces; the whole body is
never held in memory. A lock on the partial file keeps two PATCHes of one upload
from interleaving their bytes.
"""

import base64
import binascii
import fcntl
import logging
import os
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import http_date

from datasets_app.models import Dataset, Upload
from datasets_app.services import take_file
from dpo_portal.accounts import get_for_user

log = logging.getLogger(__name__)

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,termination,expiration"
PIECE_BYTES = 64 * 1024


def tus_response(status, message=None, **headers):
    if message:
        response = JsonResponse({"error": {"code": status, "message": message}})
        response.status_code = status
    else:
        response = HttpResponse(status=status)
    response["Tus-Resumable"] = TUS_VERSION
    for name, value in headers.items():
        response[name.replace("_", "-")] = str(value)
    return response


@login_required
def collection(request):
    if request.method == "OPTIONS":
        return _options()
    if request.method != "POST":
        return tus_response(405, "Use POST to create an upload.", Allow="POST, OPTIONS")
    return _create(request)


@login_required
def resource(request, upload_id):
    if request.method == "OPTIONS":
        return _options()

    upload = _load_upload(request, upload_id)
    if request.method == "HEAD":
        return _head(upload)
    if request.method == "PATCH":
        return _patch(request, upload)
    if request.method == "DELETE":
        return _terminate(upload)
    return tus_response(405, "Use HEAD, PATCH or DELETE.", Allow="HEAD, PATCH, DELETE")


def _options():
    return tus_response(
        204,
        Tus_Version=TUS_VERSION,
        Tus_Extension=TUS_EXTENSIONS,
        Tus_Max_Size=settings.DPO_UPLOAD_MAX_BYTES,
    )


def _version_problem(request):
    version = request.headers.get("Tus-Resumable")
    if version != TUS_VERSION:
        return tus_response(
            412,
            f"Tus-Resumable is {version!r}; this server speaks tus {TUS_VERSION}.",
            Tus_Version=TUS_VERSION,
        )
    return None


def _create(request):
    problem = _version_problem(request)
    if problem:
        return problem

    length = _parse_length(request.headers.get("Upload-Length"))
    if length is None:
        return tus_response(400, "Upload-Length must be a whole number of bytes.")
    if length == 0:
        return tus_response(400, "The file is empty; a dataset needs examples.")
    limit = settings.DPO_UPLOAD_MAX_BYTES
    if length > limit:
        return tus_response(
            413,
            f"The file is {length} bytes; the browser upload limit is {limit} bytes. "
            "Upload larger files with the API or the dpoctl command-line client.",
        )

    metadata = _parse_metadata(request.headers.get("Upload-Metadata", ""))
    if metadata is None:
        return tus_response(400, "Upload-Metadata is not valid tus metadata.")
    dataset = _dataset_for(
        request, metadata.get("dataset", ""), metadata.get("account", "")
    )
    if dataset.state != Dataset.STATE_UPLOADING:
        return tus_response(
            409, f"Dataset {dataset.dataset_id} is {dataset.state}; it takes no file."
        )

    upload = Upload.objects.create(
        upload_id=secrets.token_hex(16),
        account=dataset.account,
        dataset=dataset,
        file_name=os.path.basename(metadata.get("filename", ""))[:255],
        length=length,
        created_by=request.user,
        expires_at=timezone.now() + timedelta(hours=settings.DPO_UPLOAD_EXPIRES_HOURS),
    )
    upload.part_path.parent.mkdir(parents=True, exist_ok=True)
    upload.part_path.touch()
    log.info("upload %s: %d bytes for %s", upload.upload_id, length, dataset)

    location = request.build_absolute_uri(reverse("upload", args=[upload.upload_id]))
    return tus_response(
        201,
        Location=location,
        Upload_Offset=0,
        Upload_Expires=http_date(upload.expires_at.timestamp()),
    )


def _head(upload):
    return tus_response(
        200,
        Upload_Offset=upload.offset,
        Upload_Length=upload.length,
        Upload_Expires=http_date(upload.expires_at.timestamp()),
        Cache_Control="no-store",
    )


def _patch(request, upload):
    problem = _version_problem(request)
    if problem:
        return problem
    if request.content_type != "application/offset+octet-stream":
        return tus_response(
            415, "PATCH needs Content-Type application/offset+octet-stream."
        )
    offset = _parse_length(request.headers.get("Upload-Offset"))
    if offset is None:
        return tus_response(400, "Upload-Offset must be a whole number of bytes.")
    if upload.state != Upload.STATE_ACTIVE:
        return tus_response(409, f"This upload is {upload.state.lower()}.")

    with open(upload.part_path, "r+b") as part:
        try:
            fcntl.flock(part, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return tus_response(409, "Another request is writing this upload now.")

        # Read the offset again under the lock: a PATCH that just ended moved it.
        upload.refresh_from_db(fields=["offset", "state"])
        if offset != upload.offset:
            return tus_response(
                409,
                f"Upload-Offset is {offset}, but the server has {upload.offset} bytes.",
                Upload_Offset=upload.offset,
            )
        written = _stream_body(request, part, upload)

    upload.offset += written
    Upload.objects.filter(pk=upload.pk).update(offset=upload.offset)
    if upload.offset == upload.length:
        _complete(upload)
    return tus_response(
        204,
        Upload_Offset=upload.offset,
        Upload_Expires=http_date(upload.expires_at.timestamp()),
    )


def _stream_body(request, part, upload):
    # Bytes past the last good offset may be left by a request that broke off.
    part.truncate(upload.offset)
    part.seek(upload.offset)
    room = upload.length - upload.offset
    written = 0
    while written < room:
        try:
            piece = request.read(min(PIECE_BYTES, room - written))
        except OSError:
            # The client went away; keep what arrived, it resumes from there.
            break
        if not piece:
            break
        part.write(piece)
        written += len(piece)
    part.flush()
    os.fsync(part.fileno())
    return written


def _complete(upload):
    Upload.objects.filter(pk=upload.pk).update(state=Upload.STATE_COMPLETE)
    upload.state = Upload.STATE_COMPLETE
    take_file(upload.dataset, upload.part_path, upload.file_name)
    log.info("upload %s complete: %s validating", upload.upload_id, upload.dataset)


def _terminate(upload):
    if upload.state == Upload.STATE_COMPLETE:
        return tus_response(409, "This upload is complete; delete the dataset instead.")
    Upload.objects.filter(pk=upload.pk).update(state=Upload.STATE_TERMINATED)
    upload.part_path.unlink(missing_ok=True)
    return tus_response(204)


def _load_upload(request, upload_id):
    upload = get_for_user(
        Upload.objects.select_related("dataset__account"),
        request.user,
        write=True,
        upload_id=upload_id,
    )
    if upload.state == Upload.STATE_TERMINATED:
        raise Http404("This upload was terminated.")
    return upload


def _dataset_for(request, dataset_id, account_id=""):
    # A user in two accounts may have the same dataset ID in both: the API's upload
    # endpoint names the account in the metadata.
    datasets = Dataset.objects.select_related("account")
    if account_id:
        datasets = datasets.filter(account__account_id=account_id)
    return get_for_user(datasets, request.user, write=True, dataset_id=dataset_id)


def _parse_length(raw):
    if raw is None or not raw.isdigit():
        return None
    return int(raw)


def _parse_metadata(raw):
    """tus metadata: comma-separated `key base64value` pairs."""
    metadata = {}
    for pair in filter(None, (p.strip() for p in raw.split(","))):
        key, _, encoded = pair.partition(" ")
        try:
            metadata[key] = base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
    return metadata
