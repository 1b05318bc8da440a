from django.conf import settings
from django.db import models
from django.utils import timezone

from dpo_portal.ids import check_resource_id
from dpo_portal.models import Account


class Dataset(models.Model):
    STATE_UPLOADING = "UPLOADING"
    STATE_VALIDATING = "VALIDATING"
    STATE_READY = "READY"
    STATE_INVALID = "INVALID"
    STATES = [
        (STATE_UPLOADING, "Uploading"),
        (STATE_VALIDATING, "Validating"),
        (STATE_READY, "Ready"),
        (STATE_INVALID, "Invalid"),
    ]

    account = models.ForeignKey(Account, on_delete=models.CASCADE)
    dataset_id = models.CharField(max_length=63, validators=[check_resource_id])
    display_name = models.CharField(max_length=200, blank=True)
    state = models.CharField(max_length=12, choices=STATES, default=STATE_UPLOADING)
    file_name = models.CharField(max_length=255, blank=True)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    declared_example_count = models.BigIntegerField(null=True, blank=True)
    example_count = models.BigIntegerField(null=True, blank=True)
    error_count = models.BigIntegerField(null=True, blank=True)
    warning_count = models.BigIntegerField(null=True, blank=True)
    report = models.JSONField(null=True, blank=True)
    token_stats = models.JSONField(
        default=dict,
        blank=True,
        help_text="Token lengths of the examples per base model (its name as the "
        "key), counted by the VALIDATING step of a job on that model.",
    )
    validation_bytes_done = models.BigIntegerField(default=0)
    validation_bytes_total = models.BigIntegerField(default=0)
    validation_error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    validated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "dataset_id"], name="dataset_id_per_account"
            )
        ]

    def __str__(self):
        return self.name

    @property
    def name(self):
        return f"accounts/{self.account.account_id}/datasets/{self.dataset_id}"

    @property
    def folder(self):
        return (
            settings.DATA_DIR
            / "accounts"
            / self.account.account_id
            / "datasets"
            / self.dataset_id
        )

    @property
    def file_path(self):
        return self.folder / "examples.jsonl"

    @property
    def line_index_path(self):
        """Byte offsets of every K-th line, written by validation (LineIndex)."""
        return self.folder / "examples.lines"

    @property
    def validation_percent(self):
        if not self.validation_bytes_total:
            return 0
        return min(100, 100 * self.validation_bytes_done // self.validation_bytes_total)

    @property
    def is_ready(self):
        return self.state == self.STATE_READY


class Upload(models.Model):
    """One resumable upload (tus), streamed into a partial file until complete."""

    STATE_ACTIVE = "ACTIVE"
    STATE_COMPLETE = "COMPLETE"
    STATE_TERMINATED = "TERMINATED"
    STATES = [
        (STATE_ACTIVE, "Active"),
        (STATE_COMPLETE, "Complete"),
        (STATE_TERMINATED, "Terminated"),
    ]

    upload_id = models.CharField(max_length=32, unique=True)
    account = models.ForeignKey(Account, on_delete=models.CASCADE)
    dataset = models.ForeignKey(
        Dataset, on_delete=models.CASCADE, related_name="uploads"
    )
    file_name = models.CharField(max_length=255, blank=True)
    length = models.BigIntegerField()
    offset = models.BigIntegerField(default=0)
    client_sha256 = models.CharField(
        max_length=64,
        blank=True,
        help_text="The SHA-256 the client declared in Upload-Metadata, if any.",
    )
    state = models.CharField(max_length=12, choices=STATES, default=STATE_ACTIVE)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"upload {self.upload_id} for {self.dataset}"

    @property
    def part_path(self):
        return settings.DATA_DIR / "uploads" / f"{self.upload_id}.part"

    @property
    def is_expired(self):
        return self.state == self.STATE_ACTIVE and self.expires_at <= timezone.now()
