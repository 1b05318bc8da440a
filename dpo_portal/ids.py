"""Resource IDs as the hosted platforms use them: `accounts/{account}/datasets/{id}`."""

import re
import secrets

from django.core.exceptions import ValidationError

ID_PATTERN = re.compile(r"^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$")
ID_RULE = (
    "an ID is 1-63 characters of lowercase letters a-z, digits 0-9 and hyphens, "
    "starting with a letter and not ending with a hyphen"
)


def check_resource_id(value, kind="ID"):
    """Raise ValidationError quoting the value and the rule when it is no valid ID."""
    if not isinstance(value, str) or not ID_PATTERN.match(value):
        raise ValidationError(
            f"{kind} {value!r} is not valid: {ID_RULE}.", code="invalid_id"
        )
    return value


def generate_id(prefix):
    return f"{prefix}-{secrets.token_hex(4)}"


def slug_for_account(username):
    """A valid account ID made from a user name (lowercase, hyphens, letter first)."""
    slug = re.sub(r"[^a-z0-9]+", "-", username.lower()).strip("-")
    if not slug or not slug[0].isalpha():
        slug = f"u-{slug}".rstrip("-")
    return slug[:63].rstrip("-")
