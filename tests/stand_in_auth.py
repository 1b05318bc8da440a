"""TEST STAND-IN for the API-key middleware (issue 5), used only by these tests.

`Authorization: Bearer test-key-<username>` signs the request in as that user and
exempts it from CSRF, which is what the real middleware does for a real API key.
It is enabled only through tests/stand_in_settings.py or override_settings; the
real middleware replaces it once it lands.
"""

from django.contrib.auth import get_user_model

PREFIX = "test-key-"


class StandInBearerKeyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            key = header.removeprefix("Bearer ").strip()
            request.user = _user_for(key) or _anonymous()
            request.api_key = key
            request._dont_enforce_csrf_checks = True
        return self.get_response(request)


def _user_for(key):
    if not key.startswith(PREFIX):
        return None
    username = key.removeprefix(PREFIX)
    return get_user_model().objects.filter(username=username).first()


def _anonymous():
    from django.contrib.auth.models import AnonymousUser

    return AnonymousUser()


def key_for(user):
    return f"{PREFIX}{user.get_username()}"


def middleware_with_stand_in(middleware):
    at = middleware.index("django.contrib.auth.middleware.AuthenticationMiddleware")
    return [
        *middleware[: at + 1],
        "tests.stand_in_auth.StandInBearerKeyMiddleware",
        *middleware[at + 1 :],
    ]
