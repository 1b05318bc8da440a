from django.core.checks import Warning, register

from jobs_app.base_models import default_model_dir, is_prepared


@register()
def default_base_model_prepared(app_configs, **kwargs):
    folder = default_model_dir()
    if is_prepared(folder):
        return []
    return [
        Warning(
            f"The default base model is not prepared in {folder}.",
            hint="Run `python manage.py prepare_base_model` (make run does it).",
            id="jobs_app.W001",
        )
    ]
