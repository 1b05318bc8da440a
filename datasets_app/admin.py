from django.contrib import admin, messages

from datasets_app.models import Dataset, Upload
from dpo_portal.queues import enqueue_on_commit


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = [
        "dataset_id",
        "account",
        "display_name",
        "state",
        "example_count",
        "error_count",
        "size_bytes",
        "created_at",
    ]
    list_filter = ["state", "account"]
    search_fields = ["dataset_id", "display_name", "file_name", "sha256"]
    readonly_fields = ["report", "sha256", "validated_at", "created_at", "updated_at"]
    actions = ["revalidate"]

    @admin.action(description="Validate the selected datasets again")
    def revalidate(self, request, queryset):
        count = 0
        for dataset in queryset.exclude(state=Dataset.STATE_UPLOADING):
            Dataset.objects.filter(pk=dataset.pk).update(
                state=Dataset.STATE_VALIDATING, validation_bytes_done=0
            )
            enqueue_on_commit(
                "default", "datasets_app.tasks.validate_dataset", dataset.pk
            )
            count += 1
        self.message_user(
            request, f"{count} dataset(s) queued for validation.", messages.INFO
        )


@admin.register(Upload)
class UploadAdmin(admin.ModelAdmin):
    list_display = [
        "upload_id",
        "dataset",
        "file_name",
        "offset",
        "length",
        "state",
        "expires_at",
    ]
    list_filter = ["state"]
    search_fields = ["upload_id", "file_name", "dataset__dataset_id"]
