"""What a user does with a model: deploy it, check its preferences, download it."""

from django.conf import settings
from django.db import models

from datasets_app.models import Dataset
from dpo_portal.models import Account
from jobs_app.models import LanguageModel


def model_folder(model):
    """Where the portal keeps files it makes for a model (merged weights)."""
    owner = model.account.account_id if model.account_id else "shared"
    return settings.DATA_DIR / "accounts" / owner / "models" / model.model_id


class Deployment(models.Model):
    """A model served by an `inference` worker, alone or as an adapter on its base."""

    DEPLOYING = "DEPLOYING"
    READY = "READY"
    FAILED = "FAILED"
    UNDEPLOYED = "UNDEPLOYED"
    STATES = [
        (DEPLOYING, "Deploying"),
        (READY, "Ready"),
        (FAILED, "Failed"),
        (UNDEPLOYED, "Undeployed"),
    ]
    ACTIVE = {DEPLOYING, READY}

    account = models.ForeignKey(Account, on_delete=models.CASCADE)
    model = models.ForeignKey(
        LanguageModel, on_delete=models.CASCADE, related_name="deployments"
    )
    state = models.CharField(max_length=12, choices=STATES, default=DEPLOYING)
    failure_reason = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "model"],
                condition=models.Q(state__in=["DEPLOYING", "READY"]),
                name="one_active_deployment_per_model",
            )
        ]

    def __str__(self):
        return f"{self.model.name} ({self.state})"

    @property
    def is_active(self):
        return self.state in self.ACTIVE

    @property
    def base(self):
        """The base model the serving process loads for this deployment."""
        return self.model.base or self.model


class ModelTask(models.Model):
    """Shared fields of the worker jobs run on a model: state, progress, failure."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    STATES = [
        (PENDING, "Pending"),
        (RUNNING, "Running"),
        (COMPLETED, "Completed"),
        (FAILED, "Failed"),
    ]
    ACTIVE = {PENDING, RUNNING}

    account = models.ForeignKey(Account, on_delete=models.CASCADE)
    model = models.ForeignKey(LanguageModel, on_delete=models.CASCADE)
    state = models.CharField(max_length=10, choices=STATES, default=PENDING)
    failure_reason = models.TextField(blank=True)
    done = models.IntegerField(default=0)
    total = models.IntegerField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at"]

    @property
    def is_active(self):
        return self.state in self.ACTIVE

    @property
    def percent(self):
        if not self.total:
            return 0
        return min(100, round(100 * self.done / self.total))


class PreferenceCheck(ModelTask):
    """How often the tuned model prefers `preferred_output`, beside its base.

    The tuned model's preference is the sign of the DPO implicit reward margin,
    beta * (log pi_tuned(y|x) - log pi_base(y|x)) for chosen minus rejected; the
    base model's is log pi_base(chosen) against log pi_base(rejected).
    """

    dataset = models.ForeignKey(
        Dataset, on_delete=models.CASCADE, related_name="preference_checks"
    )
    beta = models.FloatField(default=0.1)
    max_examples = models.IntegerField(default=1000)
    result = models.JSONField(null=True, blank=True)

    class Meta(ModelTask.Meta):
        default_related_name = "preference_checks"

    def __str__(self):
        return f"preference check of {self.model.model_id} on {self.dataset.dataset_id}"

    @property
    def tuned_percent(self):
        return 100 * (self.result or {}).get("tuned_accuracy", 0)

    @property
    def base_percent(self):
        return 100 * (self.result or {}).get("base_accuracy", 0)

    @property
    def mean_margin(self):
        return (self.result or {}).get("rewards/margins")


class MergedExport(ModelTask):
    """Full weights with the adapter merged in, packaged as a zip for download."""

    size_bytes = models.BigIntegerField(null=True, blank=True)

    class Meta(ModelTask.Meta):
        default_related_name = "merged_exports"

    def __str__(self):
        return f"merged weights of {self.model.model_id}"

    @property
    def zip_path(self):
        return model_folder(self.model) / f"merged-{self.pk}.zip"
