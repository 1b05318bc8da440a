from django.contrib import admin, messages

from jobs_app import states
from jobs_app.lifecycle import cancel_job, retry_job
from jobs_app.models import DpoJob, JobEvent, JobMetric, LanguageModel
from jobs_app.services import enqueue_training


class JobEventInline(admin.TabularInline):
    model = JobEvent
    extra = 0
    readonly_fields = ["created_at", "level", "message", "data"]
    can_delete = False


@admin.register(DpoJob)
class DpoJobAdmin(admin.ModelAdmin):
    list_display = [
        "job_id",
        "account",
        "state",
        "progress",
        "dataset",
        "base_model",
        "output_model_id",
        "device",
        "created_at",
    ]
    list_filter = ["state", "queue", "account", "base_model", "device"]
    search_fields = [
        "job_id",
        "output_model_id",
        "dataset__dataset_id",
        "failure_reason",
    ]
    # The worker writes these while the job runs; a save from this form must not
    # undo it, and states change only through the actions (conditional moves).
    readonly_fields = [
        "state",
        "step",
        "total_steps",
        "epoch",
        "tokens_seen",
        "eta_seconds",
        "device",
        "failure_reason",
        "fine_tuned_model",
        "latest_metrics",
        "heartbeat_at",
        "started_at",
        "finished_at",
        "rq_job_id",
        "attempts",
        "peak_memory_bytes",
    ]
    inlines = [JobEventInline]
    actions = ["cancel", "retry", "enqueue_again"]

    @admin.display(description="Progress")
    def progress(self, job):
        return f"{job.step}/{job.total_steps or '?'}"

    @admin.action(description="Cancel the selected jobs")
    def cancel(self, request, queryset):
        by = f"{request.user.get_username()} in the admin"
        done = sum(cancel_job(job, by=by)[0] for job in queryset)
        self.message_user(
            request, f"{done} job(s) cancelled or cancelling.", messages.INFO
        )

    @admin.action(description="Retry the selected FAILED jobs")
    def retry(self, request, queryset):
        by = f"{request.user.get_username()} in the admin"
        done = sum(retry_job(job, by=by)[0] for job in queryset)
        self.message_user(request, f"{done} job(s) queued again.", messages.INFO)

    @admin.action(description="Enqueue the selected PENDING jobs again")
    def enqueue_again(self, request, queryset):
        pending = list(queryset.filter(state=states.PENDING))
        for job in pending:
            enqueue_training(job)
        self.message_user(request, f"{len(pending)} job(s) enqueued.", messages.INFO)


@admin.register(JobMetric)
class JobMetricAdmin(admin.ModelAdmin):
    list_display = ["job", "step", "epoch", "loss", "margin", "accuracy", "created_at"]
    list_filter = ["job__account"]
    search_fields = ["job__job_id"]

    def loss(self, metric):
        return metric.values.get("loss")

    @admin.display(description="rewards/margins")
    def margin(self, metric):
        return metric.values.get("rewards/margins")

    @admin.display(description="rewards/accuracies")
    def accuracy(self, metric):
        return metric.values.get("rewards/accuracies")


@admin.register(JobEvent)
class JobEventAdmin(admin.ModelAdmin):
    list_display = ["job", "created_at", "level", "message"]
    list_filter = ["level"]
    search_fields = ["job__job_id", "message"]


@admin.register(LanguageModel)
class LanguageModelAdmin(admin.ModelAdmin):
    list_display = [
        "model_id",
        "account",
        "kind",
        "base",
        "context_length",
        "size_bytes",
    ]
    list_filter = ["kind", "account"]
    search_fields = ["model_id", "display_name", "path"]
