from django.urls import path

from jobs_app import views

urlpatterns = [
    path("jobs/", views.job_list, name="job_list"),
    path("jobs/new/", views.job_new, name="job_new"),
    path("jobs/<str:job_id>/", views.job_detail, name="job_detail"),
    path("jobs/<str:job_id>/live/", views.job_live, name="job_live"),
    path("jobs/<str:job_id>/metrics.json", views.job_metrics, name="job_metrics"),
    path("jobs/<str:job_id>/cancel/", views.job_cancel, name="job_cancel"),
    path("jobs/<str:job_id>/retry/", views.job_retry, name="job_retry"),
    path("jobs/<str:job_id>/log/", views.job_log, name="job_log"),
    path(
        "jobs/<str:job_id>/metrics.jsonl",
        views.job_metrics_jsonl,
        name="job_metrics_jsonl",
    ),
]
