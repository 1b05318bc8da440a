from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs_app"
    verbose_name = "DPO jobs and models"

    def ready(self):
        from jobs_app import checks  # noqa: F401
