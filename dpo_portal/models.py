from django.conf import settings
from django.db import models

from dpo_portal.ids import check_resource_id


class Account(models.Model):
    """The owner of datasets, jobs and models; users see only their accounts'."""

    account_id = models.CharField(
        max_length=63, unique=True, validators=[check_resource_id]
    )
    display_name = models.CharField(max_length=200, blank=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="accounts"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["account_id"]

    def __str__(self):
        return self.account_id

    @property
    def name(self):
        return f"accounts/{self.account_id}"


class Membership(models.Model):
    ROLE_ADMIN = "admin"
    ROLE_MEMBER = "member"
    ROLE_VIEWER = "viewer"
    ROLES = [(ROLE_ADMIN, "Admin"), (ROLE_MEMBER, "Member"), (ROLE_VIEWER, "Viewer")]

    account = models.ForeignKey(Account, on_delete=models.CASCADE)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    role = models.CharField(max_length=10, choices=ROLES, default=ROLE_MEMBER)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "user"], name="one_membership")
        ]

    def __str__(self):
        return f"{self.user} in {self.account} ({self.role})"


class ApiKey(models.Model):
    """A user's key for the REST API and dpoctl: shown once, kept only as a hash."""

    PREFIX = "dpo_"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=100)
    # The first characters of the key, so a user can tell their keys apart.
    key_prefix = models.CharField(max_length=16)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.key_prefix}…) of {self.user}"

    @property
    def is_active(self):
        return self.revoked_at is None
