from django.urls import path

from models_app import views

app_name = "models"

urlpatterns = [
    path("", views.model_list, name="list"),
    path("<str:model_id>/", views.model_detail, name="detail"),
    path("<str:model_id>/deploy/", views.model_deploy, name="deploy"),
    path("<str:model_id>/undeploy/", views.model_undeploy, name="undeploy"),
    path("<str:model_id>/deployment/", views.deployment_status, name="deployment"),
    path("<str:model_id>/tasks/", views.model_tasks, name="tasks"),
    path("<str:model_id>/playground/", views.playground, name="playground"),
    path("<str:model_id>/playground/chat/", views.playground_chat, name="chat"),
    path("<str:model_id>/checks/", views.preference_check_new, name="check_new"),
    path("<str:model_id>/adapter.zip", views.download_adapter, name="adapter_zip"),
    path("<str:model_id>/merged/", views.merge_new, name="merge_new"),
    path(
        "<str:model_id>/merged/<int:export_pk>.zip",
        views.download_merged,
        name="merged_zip",
    ),
]
