"""API keys: made from a random secret, stored as its SHA-256, looked up by hash."""

import hashlib
import secrets

from django.db import transaction
from django.utils import timezone

from dpo_portal.models import ApiKey


def hash_key(key):
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_key(user, name):
    """A new key for `user`; the plain key is returned this once and never stored."""
    key = ApiKey.PREFIX + secrets.token_urlsafe(32)
    record = ApiKey.objects.create(
        user=user,
        name=name.strip()[:100] or "unnamed",
        key_prefix=key[:12],
        key_hash=hash_key(key),
    )
    return record, key


def authenticate_key(key):
    """The active ApiKey for a presented key, its last use recorded; else None."""
    if not key.startswith(ApiKey.PREFIX) or len(key) > 200:
        return None
    record = (
        ApiKey.objects.select_related("user")
        .filter(key_hash=hash_key(key), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if record is None:
        return None

    now = timezone.now()
    # One write a minute at most: a busy script must not turn reads into writes.
    if record.last_used_at is None or (now - record.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=record.pk).update(last_used_at=now)
        record.last_used_at = now
    return record


def revoke_key(user, pk):
    """Revoke one of the user's own keys; False when it is not theirs or gone."""
    with transaction.atomic():
        changed = ApiKey.objects.filter(
            pk=pk, user=user, revoked_at__isnull=True
        ).update(revoked_at=timezone.now())
    return bool(changed)
