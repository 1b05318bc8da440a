from django.contrib import admin

from models_app import services
from models_app.models import Deployment, MergedExport, PreferenceCheck


@admin.register(Deployment)
class DeploymentAdmin(admin.ModelAdmin):
    list_display = ["model", "account", "state", "created_at", "ready_at", "ended_at"]
    list_filter = ["state", "account"]
    search_fields = ["model__model_id", "failure_reason"]
    readonly_fields = ["created_at", "ready_at", "ended_at"]
    actions = ["undeploy"]

    @admin.action(description="Undeploy the selected deployments")
    def undeploy(self, request, queryset):
        done = sum(services.undeploy(d) for d in queryset.select_related("model"))
        self.message_user(request, f"{done} undeployed.")


@admin.register(PreferenceCheck)
class PreferenceCheckAdmin(admin.ModelAdmin):
    list_display = ["model", "dataset", "state", "done", "total", "created_at"]
    list_filter = ["state", "account"]
    search_fields = ["model__model_id", "dataset__dataset_id"]


@admin.register(MergedExport)
class MergedExportAdmin(admin.ModelAdmin):
    list_display = ["model", "state", "size_bytes", "created_at", "finished_at"]
    list_filter = ["state", "account"]
    search_fields = ["model__model_id"]
