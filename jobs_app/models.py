from django.conf import settings
from django.db import models

from datasets_app.models import Dataset
from dpo_portal.ids import check_resource_id
from dpo_portal.models import Account
from jobs_app import states


class LanguageModel(models.Model):
    """A base model, or a fine-tuned LoRA adapter on one."""

    KIND_BASE = "BASE"
    KIND_FINE_TUNED = "FINE_TUNED"
    KINDS = [(KIND_BASE, "Base model"), (KIND_FINE_TUNED, "Fine-tuned (LoRA)")]

    # No account: a base model every account may train on.
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.CASCADE
    )
    model_id = models.CharField(max_length=63, validators=[check_resource_id])
    display_name = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=12, choices=KINDS)
    path = models.CharField(max_length=1000, help_text="Folder with the weights.")
    base = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="tuned"
    )
    context_length = models.IntegerField(null=True, blank=True)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "model"
        ordering = ["kind", "model_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "model_id"], name="model_id_per_account"
            ),
            models.UniqueConstraint(
                fields=["model_id"],
                condition=models.Q(account__isnull=True),
                name="shared_model_id",
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def name(self):
        owner = self.account.account_id if self.account_id else "shared"
        return f"accounts/{owner}/models/{self.model_id}"

    @property
    def weights_model(self):
        """The base model whose weights this one runs on: itself for a base model,
        its base for an adapter (a warm-started adapter keeps its first base)."""
        return self.base if self.kind == self.KIND_FINE_TUNED else self


class DpoJob(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE)
    job_id = models.CharField(max_length=63, validators=[check_resource_id])
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="jobs")
    eval_dataset = models.ForeignKey(
        Dataset,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="eval_jobs",
        help_text="Evaluated on every eval_steps; else a held-out fraction, or none.",
    )
    base_model = models.ForeignKey(
        LanguageModel, on_delete=models.PROTECT, related_name="jobs"
    )
    output_model_id = models.CharField(max_length=63, validators=[check_resource_id])
    fine_tuned_model = models.OneToOneField(
        LanguageModel,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="made_by_job",
    )
    params = models.JSONField(help_text="The DpoParams of the run.")

    state = models.CharField(
        max_length=32, choices=states.CHOICES, default=states.PENDING
    )
    failure_reason = models.TextField(blank=True)
    step = models.IntegerField(default=0)
    total_steps = models.IntegerField(null=True, blank=True)
    epoch = models.FloatField(default=0)
    tokens_seen = models.BigIntegerField(default=0)
    eta_seconds = models.IntegerField(null=True, blank=True)
    latest_metrics = models.JSONField(default=dict, blank=True)
    device = models.CharField(max_length=200, blank=True)
    peak_memory_bytes = models.BigIntegerField(
        null=True, blank=True, help_text="GPU memory on CUDA, resident memory on CPU."
    )
    queue = models.CharField(
        max_length=63, default="training", help_text="The RQ queue it runs on."
    )
    attempts = models.IntegerField(
        default=0, help_text="Times a worker has started it; lost workers add one."
    )
    rq_job_id = models.CharField(max_length=64, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "DPO job"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "job_id"], name="job_per_account"
            )
        ]

    def __str__(self):
        return self.name

    @property
    def name(self):
        return f"accounts/{self.account.account_id}/dpoJobs/{self.job_id}"

    @property
    def folder(self):
        return (
            settings.DATA_DIR
            / "accounts"
            / self.account.account_id
            / "jobs"
            / (self.job_id)
        )

    @property
    def log_path(self):
        return self.folder / "train.log"

    @property
    def adapter_path(self):
        return self.folder / "adapter"

    @property
    def checkpoints_dir(self):
        return self.folder / "checkpoints"

    def checkpoints(self):
        """The saved checkpoint folders, oldest first, as (step, path)."""
        if not self.checkpoints_dir.is_dir():
            return []
        found = []
        for path in self.checkpoints_dir.glob("checkpoint-*"):
            step = path.name.removeprefix("checkpoint-")
            if step.isdigit() and (path / "trainer_state.json").exists():
                found.append((int(step), path))
        return sorted(found)

    def last_checkpoint(self):
        found = self.checkpoints()
        return found[-1][1] if found else None

    @property
    def is_active(self):
        return self.state in states.ACTIVE

    @property
    def percent(self):
        if not self.total_steps:
            return 0
        return min(100, round(100 * self.step / self.total_steps))


class JobMetric(models.Model):
    """The trainer's logged values at one step, under the trainer's own names."""

    job = models.ForeignKey(DpoJob, on_delete=models.CASCADE, related_name="metrics")
    step = models.IntegerField()
    epoch = models.FloatField(default=0)
    values = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["job", "step", "id"]
        indexes = [models.Index(fields=["job", "step"])]

    def __str__(self):
        return f"{self.job.job_id} step {self.step}"


class JobEvent(models.Model):
    LEVELS = [("INFO", "Info"), ("WARNING", "Warning"), ("ERROR", "Error")]

    job = models.ForeignKey(DpoJob, on_delete=models.CASCADE, related_name="events")
    created_at = models.DateTimeField(auto_now_add=True)
    level = models.CharField(max_length=8, choices=LEVELS, default="INFO")
    message = models.TextField()
    data = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"{self.job.job_id}: {self.message}"
