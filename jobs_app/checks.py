from django.conf import settings
from django.core.checks import Error, Warning, register

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


@register()
def training_queues_configured(app_configs, **kwargs):
    """Every training queue is an RQ queue without a timeout: RQ's default of 180 s
    would kill a training run."""
    found = []
    for name in settings.DPO_TRAINING_QUEUES:
        queue = settings.RQ_QUEUES.get(name)
        if queue is None:
            found.append(
                Error(
                    f"Training queue {name!r} is not in RQ_QUEUES.",
                    hint="List it in DPO_TRAINING_QUEUES before settings build "
                    "RQ_QUEUES, or add it to RQ_QUEUES.",
                    id="jobs_app.E001",
                )
            )
        elif queue.get("DEFAULT_TIMEOUT") != -1:
            found.append(
                Error(
                    f"Training queue {name!r} has DEFAULT_TIMEOUT "
                    f"{queue.get('DEFAULT_TIMEOUT')!r}; RQ would stop a run at it.",
                    hint="Set its DEFAULT_TIMEOUT to -1 (no timeout).",
                    id="jobs_app.E002",
                )
            )
    return found
