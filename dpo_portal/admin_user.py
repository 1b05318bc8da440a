"""The local admin user that `make run` and `make demo` create on a fresh machine."""

import secrets

from django.contrib.auth import get_user_model

from dpo_portal.accounts import personal_account

ADMIN_NAME = "admin"


def ensure_admin(out):
    """The first superuser, made (and its password shown once) when there is none."""
    User = get_user_model()
    admin = User.objects.filter(is_superuser=True).order_by("pk").first()
    if admin:
        return admin, False

    password = secrets.token_urlsafe(12)
    admin = User.objects.create_superuser(ADMIN_NAME, password=password)
    personal_account(admin)
    out(
        f"Created the admin user. Sign in as: {ADMIN_NAME} / {password}\n"
        "This password is shown once; change it in the admin panel."
    )
    return admin, True
