from django.contrib import admin, messages

from datasets_app.models import Dataset, Upload
from datasets_app.services import DatasetInUse, delete_dataset
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
    actions = ["revalidate", "delete_with_files"]

    @admin.action(description="Delete the selected datasets and their files")
    def delete_with_files(self, request, queryset):
        deleted = 0
        for dataset in queryset:
            try:
                delete_dataset(dataset)
            except DatasetInUse as in_use:
                self.message_user(request, str(in_use), messages.ERROR)
            else:
                deleted += 1
        self.message_user(request, f"{deleted} dataset(s) deleted.", messages.INFO)

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
    list_filter = ["state", "expires_at"]
    search_fields = ["upload_id", "file_name", "dataset__dataset_id", "client_sha256"]
    readonly_fields = ["upload_id", "offset", "length", "client_sha256", "created_at"]
