"""Sign-in with failed attempts counted per user name and per address: past the
limit, that name (or address) is locked for a while, whatever password comes next.

Counters live in the cache (Redis), so every web process sees the same ones. When
the cache is down, sign-in still works, unlimited, and the log says so.
"""

import hashlib
import logging
import math
import time

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.cache import cache
from django.core.exceptions import ValidationError

log = logging.getLogger(__name__)


def _key(kind, value):
    digest = hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()[:32]
    return f"signin:{kind}:{digest}"


def _subjects(username, address):
    return [("user", username.strip().lower()[:150]), ("address", address or "-")]


def _limit(kind):
    if kind == "user":
        return settings.DPO_SIGNIN_MAX_FAILURES_PER_USER
    return settings.DPO_SIGNIN_MAX_FAILURES_PER_ADDRESS


def locked_for(username, address):
    """(kind, seconds left) of the first lock on this name or address, or None."""
    try:
        for kind, value in _subjects(username, address):
            until = cache.get(_key(f"lock-{kind}", value))
            if until and until > time.time():
                return kind, until - time.time()
    except Exception as exc:  # noqa: BLE001 - a cache outage must not stop sign-in
        log.warning("sign-in limits not checked: the cache failed: %s", exc)
    return None


def record_failure(username, address):
    window = settings.DPO_SIGNIN_LOCK_MINUTES * 60
    try:
        for kind, value in _subjects(username, address):
            key = _key(f"fail-{kind}", value)
            cache.add(key, 0, timeout=window)
            failures = cache.incr(key)
            if failures >= _limit(kind):
                cache.set(_key(f"lock-{kind}", value), time.time() + window, window)
                cache.delete(key)
                log.warning(
                    "sign-in locked for %s %r after %d failures", kind, value, failures
                )
    except Exception as exc:  # noqa: BLE001
        log.warning("sign-in failure not counted: the cache failed: %s", exc)


def record_success(username):
    try:
        cache.delete(_key("fail-user", username.strip().lower()[:150]))
    except Exception as exc:  # noqa: BLE001
        log.warning("sign-in counter not cleared: the cache failed: %s", exc)


def lock_message(kind, seconds):
    minutes = max(1, math.ceil(seconds / 60))
    whose = "this user name" if kind == "user" else "your network address"
    return (
        f"Too many failed sign-ins for {whose}. Sign-in is locked for about "
        f"{minutes} more minute{'s' if minutes != 1 else ''}; try again then, or ask "
        "an administrator to reset your password."
    )


class LimitedAuthenticationForm(AuthenticationForm):
    def clean(self):
        username = self.data.get("username", "") or ""
        address = self.request.META.get("REMOTE_ADDR", "") if self.request else ""
        lock = locked_for(username, address)
        if lock:
            raise ValidationError(lock_message(*lock), code="locked")

        try:
            cleaned = super().clean()
        except ValidationError:
            record_failure(username, address)
            raise
        record_success(username)
        return cleaned


class LimitedLoginView(LoginView):
    template_name = "login.html"
    authentication_form = LimitedAuthenticationForm
