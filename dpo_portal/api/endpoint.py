"""What every API view shares: key authentication, the account from the URL, the
JSON body, paging, and turning every failure into a JSON error (never an HTML page).
"""

import base64
import binascii
import json
import logging
import math

from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
    ValidationError,
)
from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from dpo_portal.accounts import require_write
from dpo_portal.api.errors import ApiError, error_response
from dpo_portal.models import Account

log = logging.getLogger(__name__)

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


def route(**handlers):
    """One URL's view: {HTTP method: handler(request, account, **url_parts)}.

    Changing methods need a member's role; reading ones any membership. Other
    accounts' URLs are 404, whether they exist or not.
    """

    @csrf_exempt
    def view(request, account, **parts):
        try:
            handler = handlers.get(request.method)
            if handler is None:
                allowed = ", ".join(sorted(handlers))
                raise ApiError(
                    "METHOD_NOT_ALLOWED",
                    f"Use {allowed} on this URL, not {request.method}.",
                )
            require_key(request)
            owner = load_account(request.user, account)
            if request.method in WRITE_METHODS:
                require_write(owner, request.user)
            return handler(request, owner, **parts)
        except Exception as exc:  # noqa: BLE001 - every failure must be JSON
            return as_error(request, exc)

    view.handlers = handlers
    return view


def require_key(request):
    if getattr(request, "api_key", None) is None:
        raise ApiError(
            "UNAUTHENTICATED",
            "Send an API key: 'Authorization: Bearer <key>'. Create one on the API "
            "keys page.",
        )


def load_account(user, account_id):
    account = Account.objects.filter(account_id=account_id, members=user).first()
    if account is None:
        raise ApiError("NOT_FOUND", f"Account {account_id!r} not found.")
    return account


def as_error(request, exc):
    if isinstance(exc, ApiError):
        return error_response(exc.code, exc.message, exc.details)
    if isinstance(exc, Http404):
        return error_response("NOT_FOUND", str(exc) or "Not found.")
    if isinstance(exc, PermissionDenied):
        return error_response(
            "PERMISSION_DENIED", str(exc) or "Your role does not allow this."
        )
    if isinstance(exc, RequestDataTooBig):
        return error_response("PAYLOAD_TOO_LARGE", "The request body is too large.")
    if isinstance(exc, SuspiciousOperation):
        return error_response("INVALID_ARGUMENT", "The request could not be read.")
    if isinstance(exc, ValidationError):
        return error_response("INVALID_ARGUMENT", " ".join(exc.messages))

    log.exception("API %s %s failed", request.method, request.path)
    return error_response(
        "INTERNAL", "The server failed on this request; the error is in its log."
    )


def json_body(request):
    """The request's JSON object; INVALID_ARGUMENT saying why when it is not one."""
    try:
        raw = request.body.decode("utf-8")
        body = json.loads(raw, parse_constant=_refuse_constant)
    except UnicodeDecodeError:
        raise ApiError("INVALID_ARGUMENT", "The body is not UTF-8 text.") from None
    except RecursionError:
        raise ApiError(
            "INVALID_ARGUMENT", "The JSON body is nested too deeply."
        ) from None
    except ValueError as exc:
        raise ApiError(
            "INVALID_ARGUMENT", f"The body is not valid JSON: {exc}."
        ) from None
    if not isinstance(body, dict):
        raise ApiError(
            "INVALID_ARGUMENT", f"The body must be a JSON object, not {_kind(body)}."
        )
    return body


def _refuse_constant(name):
    raise ValueError(f"{name} is not a JSON number")


def _kind(value):
    return {list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "a number" if isinstance(value, int | float) else "null"
    )


def is_finite_number(value):
    """A JSON number a float can hold: not a bool, NaN, infinity or a huge integer."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def page(request, queryset, key, shape, max_size=MAX_PAGE_SIZE, default=None):
    """One page of `queryset` as {key: [...], nextPageToken, totalSize}."""
    size = page_size(request, max_size, default or min(DEFAULT_PAGE_SIZE, max_size))
    start = _offset(request.GET.get("pageToken", ""))
    rows = list(queryset[start : start + size + 1])
    body = {key: [shape(row) for row in rows[:size]], "totalSize": queryset.count()}
    body["nextPageToken"] = _token(start + size) if len(rows) > size else ""
    return JsonResponse(body)


def page_size(request, max_size, default):
    raw = request.GET.get("pageSize", "")
    if raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= max_size:
        raise ApiError(
            "INVALID_ARGUMENT",
            f"pageSize is {raw[:40]!r}; use a whole number from 1 to {max_size}.",
            [{"field": "pageSize", "message": f"1 to {max_size}"}],
        )
    return int(raw)


def _token(offset):
    return base64.urlsafe_b64encode(f"o{offset}".encode()).decode().rstrip("=")


def _offset(token):
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    digits = text[1:]
    if not (
        text[:1] == "o" and digits.isascii() and digits.isdigit() and len(digits) < 19
    ):
        raise ApiError(
            "INVALID_ARGUMENT",
            "pageToken is not one this server gave out; pass the nextPageToken of "
            "the previous page.",
            [{"field": "pageToken", "message": "unknown token"}],
        )
    return int(digits)


def api_not_found(request, rest=""):
    return error_response(
        "NOT_FOUND",
        f"No API endpoint at {request.path[:200]!r}; the schema is at "
        "/v1/openapi.json.",
    )


def timestamp(value):
    if value is None:
        return None
    return value.isoformat().replace("+00:00", "Z")
