from django.apps import AppConfig


class ModelsAppConfig(AppConfig):
    name = "models_app"
    verbose_name = "Models: deployments, checks and downloads"

    def ready(self):
        from models_app import checks  # noqa: F401  (registers the system checks)
