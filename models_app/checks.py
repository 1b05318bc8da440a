"""Deployment assumptions of serving, checked at start-up."""

from django.conf import settings
from django.core.checks import Error, register


@register()
def inference_queue_configured(app_configs, **kwargs):
    queue = settings.RQ_QUEUES.get("inference")
    if queue is None:
        return [
            Error(
                "RQ_QUEUES has no 'inference' queue, so deployed models are never "
                "served.",
                hint="Add 'inference' to RQ_QUEUES with DEFAULT_TIMEOUT -1.",
                id="models_app.E001",
            )
        ]
    if queue.get("DEFAULT_TIMEOUT") != -1:
        return [
            Error(
                "The 'inference' queue has an RQ timeout: a serving process would "
                "be killed while models are deployed.",
                hint="Set RQ_QUEUES['inference']['DEFAULT_TIMEOUT'] to -1.",
                id="models_app.E002",
            )
        ]
    return []
