"""The resumable upload endpoint: the tus 1.0 protocol (core, creation, termination,
checksum, expiration), so the wizard's client and any tus client can send large
files in chunks and resume where they stopped.

Each PATCH body is streamed to disk in small pieces; the whole body is never held
in memory. A lock on the partial file keeps two PATCHes of one upload from
interleaving their bytes. A chunk with an `Upload-Checksum` is first streamed to a
temporary file while it is hashed, and appended only when the digest matches.
"""

import base64
import binascii
import fcntl
import hashlib
import logging
import os
import re
import secrets
import shutil
import tempfile
from datetime import timedelta
from functools import wraps

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.urls import reverse
from django.utils import timezone
from django.utils.http import http_date
from django.views.decorators.csrf import csrf_exempt

from datasets_app.models import Dataset, Upload
from datasets_app.services import FileRefused, file_sha256, take_file
from dpo_portal.accounts import get_for_user

log = logging.getLogger(__name__)

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,termination,checksum,expiration"
CHECKSUM_ALGORITHMS = ("sha1", "sha256")
PIECE_BYTES = 64 * 1024
STATUS_CHECKSUM_MISMATCH = 460  # defined by the tus checksum extension
SHA256_HEX = re.compile(r"[0-9a-f]{64}")

_csrf = CsrfViewMiddleware(lambda request: None)


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


def tus_endpoint(view):
    """OPTIONS for anyone; otherwise a signed-in user (or an API key), then CSRF.

    A tus client is a program, not a page: it gets a 401 in JSON, not a redirect
    to the sign-in page. Requests with an API key carry no ambient credentials, so
    CSRF does not apply to them.
    """

    @csrf_exempt
    @wraps(view)
    def endpoint(request, *args, **kwargs):
        if request.method == "OPTIONS":
            return _options(request)
        if not request.user.is_authenticated:
            return tus_response(
                401, "Sign in, or send an API key as 'Authorization: Bearer <key>'."
            )
        if _api_key(request) is None and _csrf.process_view(request, view, args, {}):
            return tus_response(
                403,
                "The CSRF check failed: send the csrftoken cookie's value in the "
                "X-CSRFToken header.",
            )
        # Answer in the protocol's JSON, not with the site's HTML error pages.
        try:
            return view(request, *args, **kwargs)
        except Http404:
            return tus_response(404, "No such upload or dataset in your accounts.")
        except PermissionDenied as denied:
            return tus_response(403, str(denied))

    return endpoint


@tus_endpoint
def collection(request):
    if request.method != "POST":
        return tus_response(405, "Use POST to create an upload.", Allow="POST, OPTIONS")
    return _create(request)


@tus_endpoint
def resource(request, upload_id):
    upload = _load_upload(request, upload_id)
    if request.method == "HEAD":
        return _head(upload)
    if request.method == "PATCH":
        return _patch(request, upload)
    if request.method == "DELETE":
        return _terminate(upload)
    return tus_response(
        405, "Use HEAD, PATCH or DELETE.", Allow="HEAD, PATCH, DELETE, OPTIONS"
    )


def _api_key(request):
    # Set by the API's authentication middleware for 'Authorization: Bearer' keys.
    return getattr(request, "api_key", None)


def max_upload_bytes(request):
    """The API path takes larger files than the browser path; both are settings."""
    if _api_key(request) is not None:
        return settings.DPO_API_UPLOAD_MAX_BYTES
    return settings.DPO_UPLOAD_MAX_BYTES


def _options(request):
    return tus_response(
        204,
        Tus_Version=TUS_VERSION,
        Tus_Extension=TUS_EXTENSIONS,
        Tus_Max_Size=max_upload_bytes(request),
        Tus_Checksum_Algorithm=",".join(CHECKSUM_ALGORITHMS),
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
    limit = max_upload_bytes(request)
    if length > limit:
        return tus_response(413, _too_large_message(request, length, limit))

    metadata = _parse_metadata(request.headers.get("Upload-Metadata", ""))
    if metadata is None:
        return tus_response(400, "Upload-Metadata is not valid tus metadata.")
    client_sha256 = metadata.get("sha256", "").lower()
    if client_sha256 and not SHA256_HEX.fullmatch(client_sha256):
        return tus_response(
            400, "The sha256 metadata must be the file's SHA-256 as 64 hex digits."
        )
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
        client_sha256=client_sha256,
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


def _too_large_message(request, length, limit):
    message = f"The file is {length} bytes; the upload limit is {limit} bytes."
    if _api_key(request) is None:
        message = (
            f"The file is {length} bytes; the browser upload limit is {limit} bytes. "
            "Upload larger files with the API or the dpoctl command-line client."
        )
    return message


def _head(upload):
    if upload.is_expired:
        return _expired()
    return tus_response(
        200,
        Upload_Offset=upload.offset,
        Upload_Length=upload.length,
        Upload_Expires=http_date(upload.expires_at.timestamp()),
        Cache_Control="no-store",
    )


def _expired():
    return tus_response(
        410, "This upload expired and its partial file is deleted; start again."
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
    checksum = _parse_checksum(request.headers.get("Upload-Checksum"))
    if checksum is False:
        return tus_response(
            400,
            "Upload-Checksum must be '<algorithm> <base64 digest>' with an algorithm "
            f"of {', '.join(CHECKSUM_ALGORITHMS)}.",
        )
    if upload.is_expired:
        return _expired()
    if upload.state != Upload.STATE_ACTIVE:
        return tus_response(409, f"This upload is {upload.state.lower()}.")
    sent = _parse_length(request.META.get("CONTENT_LENGTH") or "0") or 0
    if offset + sent > upload.length:
        return tus_response(
            413,
            f"The chunk ends at byte {offset + sent}, past the upload's length of "
            f"{upload.length} bytes.",
        )

    with open(upload.part_path, "r+b") as part:
        try:
            fcntl.flock(part, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return tus_response(409, "Another request is writing this upload now.")

        # Read the offset again under the lock: a PATCH that just ended moved it.
        upload.refresh_from_db(fields=["offset", "state"])
        if upload.state != Upload.STATE_ACTIVE:
            return tus_response(409, f"This upload is {upload.state.lower()}.")
        if offset != upload.offset:
            return tus_response(
                409,
                f"Upload-Offset is {offset}, but the server has {upload.offset} bytes.",
                Upload_Offset=upload.offset,
            )
        if checksum:
            written = _append_checked(request, part, upload, checksum)
            if written is None:
                return tus_response(
                    STATUS_CHECKSUM_MISMATCH,
                    f"The chunk's {checksum[0]} digest does not match Upload-Checksum; "
                    "nothing of it was kept. Send it again.",
                    Upload_Offset=upload.offset,
                )
        else:
            written = _append(request, part, upload)

        upload.offset += written
        Upload.objects.filter(pk=upload.pk).update(offset=upload.offset)
        # Still under the lock, so that the file is handed over exactly once.
        if upload.offset == upload.length:
            refused = _complete(upload)
            if refused:
                return refused

    return tus_response(
        204,
        Upload_Offset=upload.offset,
        Upload_Expires=http_date(upload.expires_at.timestamp()),
    )


def _body_pieces(request, room):
    """The request body in pieces of at most PIECE_BYTES, up to `room` bytes."""
    received = 0
    while received < room:
        try:
            piece = request.read(min(PIECE_BYTES, room - received))
        except OSError:
            # The client went away; what arrived so far is all there is.
            return
        if not piece:
            return
        received += len(piece)
        yield piece


def _append(request, part, upload):
    # Bytes past the last good offset may be left by a request that broke off.
    part.truncate(upload.offset)
    part.seek(upload.offset)
    written = 0
    for piece in _body_pieces(request, upload.length - upload.offset):
        part.write(piece)
        written += len(piece)
    part.flush()
    os.fsync(part.fileno())
    return written


def _append_checked(request, part, upload, checksum):
    """Append the chunk if its digest matches; None, with nothing written, if not."""
    algorithm, expected = checksum
    digest = hashlib.new(algorithm)
    with tempfile.TemporaryFile(dir=upload.part_path.parent) as chunk:
        for piece in _body_pieces(request, upload.length - upload.offset):
            digest.update(piece)
            chunk.write(piece)
        if digest.digest() != expected:
            log.warning("upload %s: chunk checksum mismatch", upload.upload_id)
            return None

        written = chunk.tell()
        chunk.seek(0)
        part.truncate(upload.offset)
        part.seek(upload.offset)
        shutil.copyfileobj(chunk, part, PIECE_BYTES)
    part.flush()
    os.fsync(part.fileno())
    return written


def _complete(upload):
    """Check the whole file and hand it to its dataset; a response if refused."""
    sha256 = file_sha256(upload.part_path)
    if upload.client_sha256 and sha256 != upload.client_sha256:
        _discard(upload)
        return tus_response(
            STATUS_CHECKSUM_MISMATCH,
            f"The file's SHA-256 is {sha256}, but the client said "
            f"{upload.client_sha256}: it changed or was corrupted on the way. "
            "The upload was discarded; send the file again.",
        )

    try:
        take_file(upload.dataset, upload.part_path, upload.file_name, sha256)
    except FileRefused as refused:
        _discard(upload)
        return tus_response(409, str(refused))

    Upload.objects.filter(pk=upload.pk).update(state=Upload.STATE_COMPLETE)
    upload.state = Upload.STATE_COMPLETE
    log.info("upload %s complete: %s validating", upload.upload_id, upload.dataset)
    return None


def _discard(upload):
    Upload.objects.filter(pk=upload.pk).update(state=Upload.STATE_TERMINATED)
    upload.part_path.unlink(missing_ok=True)


def _terminate(upload):
    if upload.state == Upload.STATE_COMPLETE:
        return tus_response(409, "This upload is complete; delete the dataset instead.")
    # Wait for a PATCH that is writing now, so that it cannot finish the upload
    # after its file is gone.
    with open(upload.part_path, "ab") as part:
        fcntl.flock(part, fcntl.LOCK_EX)
        upload.refresh_from_db(fields=["state"])
        if upload.state == Upload.STATE_COMPLETE:
            return tus_response(
                409, "This upload is complete; delete the dataset instead."
            )
        _discard(upload)
    log.info("upload %s terminated", upload.upload_id)
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


def _parse_checksum(raw):
    """`(algorithm, digest bytes)`, None when there is no header, False if invalid."""
    if raw is None:
        return None
    algorithm, _, encoded = raw.strip().partition(" ")
    if algorithm not in CHECKSUM_ALGORITHMS:
        return False
    try:
        return algorithm, base64.b64decode(encoded.strip(), validate=True)
    except binascii.Error:
        return False


def _parse_metadata(raw):
    """tus metadata: comma-separated `key base64value` pairs (the value optional)."""
    metadata = {}
    for pair in filter(None, (p.strip() for p in raw.split(","))):
        key, _, encoded = pair.partition(" ")
        try:
            metadata[key] = base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
    return metadata
