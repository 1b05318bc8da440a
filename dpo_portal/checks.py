"""Deployment assumptions as system checks, so they fail loudly at start-up."""

import os

from django.conf import settings
from django.core.checks import Error, Warning, register


@register()
def data_dir_writable(app_configs, **kwargs):
    if os.access(settings.DATA_DIR, os.W_OK):
        return []
    return [
        Error(
            f"The data folder {settings.DATA_DIR} is not writable.",
            hint="Point DPO_DATA_DIR at a folder this process can write.",
            id="dpo_portal.E001",
        )
    ]


@register()
def queues_configured(app_configs, **kwargs):
    missing = {"default", "training"} - set(settings.RQ_QUEUES)
    if not missing:
        return []
    return [
        Error(
            f"RQ_QUEUES lacks the queues {sorted(missing)}.",
            hint="Validation runs on 'default' and DPO jobs on 'training'.",
            id="dpo_portal.E002",
        )
    ]


@register()
def training_queue_has_no_timeout(app_configs, **kwargs):
    timeout = settings.RQ_QUEUES.get("training", {}).get("DEFAULT_TIMEOUT")
    if timeout == -1:
        return []
    return [
        Warning(
            f"The training queue's DEFAULT_TIMEOUT is {timeout!r}.",
            hint="Use -1: RQ would kill a training run at its timeout.",
            id="dpo_portal.W001",
        )
    ]
