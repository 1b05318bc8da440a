from django.urls import path

from datasets_app import views

urlpatterns = [
    path("", views.dataset_list, name="dataset_list"),
    path("new/", views.dataset_new, name="dataset_new"),
    path("<str:dataset_id>/", views.dataset_detail, name="dataset_detail"),
    path("<str:dataset_id>/upload/", views.dataset_upload, name="dataset_upload"),
    path("<str:dataset_id>/status/", views.dataset_status, name="dataset_status"),
    path("<str:dataset_id>/preview/", views.dataset_preview, name="dataset_preview"),
    path("<str:dataset_id>/download/", views.dataset_download, name="dataset_download"),
    path("<str:dataset_id>/delete/", views.dataset_delete, name="dataset_delete"),
]
