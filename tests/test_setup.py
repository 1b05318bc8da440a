"""Set-up pieces: the default base model and the local Redis that `make run` starts."""

import time

import pytest
import redis
from django.core.management import call_command

from dpo_portal.local_redis import redis_answers, start_local_redis
from jobs_app.base_models import DEFAULT_MODEL_ID, default_model_dir
from jobs_app.models import LanguageModel
from tests.ports import free_port


@pytest.mark.django_db
def test_preparing_the_default_model_again_is_quick_and_registers_it():
    started = time.monotonic()

    call_command("prepare_base_model")

    assert time.monotonic() - started < 10
    model = LanguageModel.objects.get(model_id=DEFAULT_MODEL_ID, account=None)
    assert model.kind == LanguageModel.KIND_BASE
    assert model.context_length == 8192
    folder = default_model_dir()
    assert (folder / "model.safetensors").exists()
    assert (folder / "chat_template.jinja").exists()


def test_a_local_redis_is_started_when_none_answers(tmp_path):
    url = f"redis://127.0.0.1:{free_port()}/0"
    assert not redis_answers(url)

    process = start_local_redis(url, tmp_path)
    try:
        assert redis.Redis.from_url(url).ping()
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_no_redis_is_started_when_one_answers(redis_queues, tmp_path):
    from django.conf import settings

    assert start_local_redis(settings.REDIS_URL, tmp_path) is None
