"""The serving queue's system checks."""

from django.test import override_settings

from models_app.checks import inference_queue_configured


def test_a_missing_inference_queue_is_an_error_with_a_hint(settings):
    queues = {k: v for k, v in settings.RQ_QUEUES.items() if k != "inference"}

    with override_settings(RQ_QUEUES=queues):
        errors = inference_queue_configured(None)

    assert [e.id for e in errors] == ["models_app.E001"]
    assert "DEFAULT_TIMEOUT -1" in errors[0].hint


def test_an_inference_queue_with_a_timeout_is_an_error(settings):
    queues = dict(settings.RQ_QUEUES)
    queues["inference"] = {"URL": settings.REDIS_URL, "DEFAULT_TIMEOUT": 180}

    with override_settings(RQ_QUEUES=queues):
        errors = inference_queue_configured(None)

    assert [e.id for e in errors] == ["models_app.E002"]


def test_the_project_settings_pass_the_check():
    assert inference_queue_configured(None) == []
