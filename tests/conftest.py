import os
import shutil
import subprocess
import sys

import django_rq
import pytest
from django.conf import settings
from django.db import connection

from dpo_portal.accounts import personal_account
from dpo_portal.local_redis import start_local_redis


@pytest.fixture(scope="session", autouse=True)
def clean_test_data():
    """Each run starts from an empty test data folder; base models live elsewhere."""
    for name in ["accounts", "uploads"]:
        shutil.rmtree(settings.DATA_DIR / name, ignore_errors=True)


@pytest.fixture(scope="session")
def test_redis():
    """The tests' own Redis database; a Redis is started when none answers."""
    process = start_local_redis(settings.REDIS_URL, settings.DATA_DIR)
    yield django_rq.get_connection("default")
    if process:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def redis_queues(test_redis):
    test_redis.flushdb()
    yield test_redis
    test_redis.flushdb()


@pytest.fixture
def run_worker(redis_queues):
    """Run a real RQ worker process on the test database until the queues are empty."""

    def run(queues=("default", "training"), timeout=600):
        env = dict(os.environ)
        env["DJANGO_SETTINGS_MODULE"] = "dpo_portal.test_settings"
        env["DATABASE_URL"] = f"sqlite:///{connection.settings_dict['NAME']}"
        env["REDIS_URL"] = settings.REDIS_URL
        command = [sys.executable, "manage.py", "rqworker", "--burst", *queues]
        done = subprocess.run(
            command,
            cwd=settings.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done

    return run


def make_user(django_user_model, username):
    user = django_user_model.objects.create_user(
        username=username, password="pw-123456"
    )
    personal_account(user)
    return user


@pytest.fixture
def owner(django_user_model):
    return make_user(django_user_model, "owner")


@pytest.fixture
def outsider(django_user_model):
    return make_user(django_user_model, "outsider")


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def outsider_client(outsider):
    from django.test import Client

    other = Client()
    other.force_login(outsider)
    return other


@pytest.fixture(scope="session")
def tiny_model_dir():
    """A randomly initialised two-layer Llama with the default model's tokenizer."""
    from tests.tiny_model import build_tiny_model

    return build_tiny_model(settings.DATA_DIR / "tiny-model")
