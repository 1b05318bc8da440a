from django.apps import AppConfig


class DpoPortalConfig(AppConfig):
    name = "dpo_portal"
    verbose_name = "Accounts"

    def ready(self):
        from dpo_portal import checks  # noqa: F401
