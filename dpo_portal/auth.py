"""Bearer API keys: `Authorization: Bearer dpo_...` signs the request in as the
key's user, for that request only.

A key-authenticated request carries no cookie a browser could send on its own, so it
is exempt from CSRF; requests signed in by the session cookie keep CSRF checks.
"""

from django.contrib.auth.models import AnonymousUser
from django.http import JsonResponse

from dpo_portal.api_keys import authenticate_key

# Keys open the API, the upload and the serving endpoints only: a leaked key must
# not also open the admin or the account pages, where a session belongs.
KEY_PATHS = ("/v1/", "/uploads/", "/inference/")
OWN_ERROR_SHAPE_PATHS = ("/inference/",)


def unauthenticated(message):
    response = JsonResponse(
        {"error": {"code": "UNAUTHENTICATED", "message": message, "details": []}},
        status=401,
    )
    response["WWW-Authenticate"] = 'Bearer realm="dpo-portal"'
    return response


class ApiKeyMiddleware:
    """Goes after AuthenticationMiddleware, whose session user it replaces."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.api_key = None
        header = request.headers.get("Authorization", "")
        if not header or not request.path.startswith(KEY_PATHS):
            return self.get_response(request)

        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            return unauthenticated(
                "The Authorization header must be 'Bearer <API key>'."
            )
        record = authenticate_key(key.strip())
        if record is None and request.path.startswith(OWN_ERROR_SHAPE_PATHS):
            # The OpenAI-compatible endpoint answers in OpenAI's error shape, which
            # its clients understand; it refuses an anonymous caller itself.
            request.user = AnonymousUser()
            return self.get_response(request)
        if record is None:
            return unauthenticated(
                "This API key is not valid or was revoked; create one on the API "
                "keys page."
            )

        request.user = record.user
        request.api_key = record
        request._dont_enforce_csrf_checks = True
        return self.get_response(request)
