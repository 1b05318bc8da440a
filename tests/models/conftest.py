"""Fixtures for the model tests: a tiny base model, adapters on it, a real
`inference` worker process and a real web server process."""

import os
import socket
import subprocess
import sys
import time

import django_rq
import pytest
from django.conf import settings
from django.db import connection

from dpo_portal.accounts import personal_account
from jobs_app.models import LanguageModel
from models_app.models import Deployment
from tests.ports import free_port

WAIT_SECONDS = 120


def worker_env(settings_module="dpo_portal.test_settings"):
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = settings_module
    env["DATABASE_URL"] = f"sqlite:///{connection.settings_dict['NAME']}"
    env["REDIS_URL"] = settings.REDIS_URL
    return env


@pytest.fixture
def tiny_base(tiny_model_dir):
    return LanguageModel.objects.create(
        model_id="tiny-base",
        kind=LanguageModel.KIND_BASE,
        path=str(tiny_model_dir),
        context_length=2048,
    )


def make_adapter(user, base, model_id, seed=1, random_init=True):
    """A LoRA adapter on `base`, made without training and registered as a model.

    With `random_init`, the B matrices are random (PEFT starts them at zero), so
    the adapter changes the answers.
    """
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    account = personal_account(user)
    folder = settings.DATA_DIR / "accounts" / account.account_id / "adapters" / model_id
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base.path)
    lora = LoraConfig(
        r=4,
        lora_alpha=32,
        target_modules="all-linear",
        init_lora_weights=not random_init,
        task_type="CAUSAL_LM",
    )
    get_peft_model(model, lora).save_pretrained(folder)
    AutoTokenizer.from_pretrained(base.path).save_pretrained(folder)
    return LanguageModel.objects.create(
        account=account,
        model_id=model_id,
        kind=LanguageModel.KIND_FINE_TUNED,
        path=str(folder),
        base=base,
        context_length=base.context_length,
    )


@pytest.fixture
def tiny_adapter(owner, tiny_base):
    return make_adapter(owner, tiny_base, "tiny-tuned")


def wait_for(predicate, what, seconds=WAIT_SECONDS, log=None):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    details = f"\n{log()}" if log else ""
    raise AssertionError(f"gave up waiting for {what} after {seconds} s{details}")


def wait_until_done(task, worker):
    """Wait for a PreferenceCheck or MergedExport to end; returns it refreshed."""

    def ended():
        task.refresh_from_db()
        return not task.is_active

    wait_for(ended, str(task), log=worker.log)
    return task


def wait_until_ready(deployment):
    def settled():
        deployment.refresh_from_db()
        return deployment.state != Deployment.DEPLOYING

    wait_for(settled, f"deployment of {deployment.model.model_id}")
    assert deployment.state == Deployment.READY, deployment.failure_reason


class BackgroundWorker:
    """A real `rqworker` process on the test's queues, running until the test ends.

    Not `--burst`: a burst worker sometimes spends up to a minute in RQ's pub/sub
    shutdown after its last job (rq/rq#1613), so tests wait for their jobs'
    results instead and stop the worker at the end.
    """

    def __init__(self, log_path):
        self.process = None
        self.log_path = log_path

    def start(self, *queues):
        command = [sys.executable, "manage.py", "rqworker", *(queues or ["inference"])]
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(
                command,
                cwd=settings.BASE_DIR,
                env=worker_env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    def log(self):
        return self.log_path.read_text()[-4000:]

    def wait_until_serving_ends(self, seconds=WAIT_SECONDS):
        """Wait for the serving job to return; its work horse exits with it, which
        gives its memory back."""
        from rq.registry import FinishedJobRegistry, StartedJobRegistry

        connection = django_rq.get_connection("inference")
        finished = FinishedJobRegistry("inference", connection=connection)
        started = StartedJobRegistry("inference", connection=connection)
        wait_for(
            lambda: finished.count >= 1 and started.count == 0,
            "the serving job to return",
            seconds,
            log=self.log,
        )

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        # Ending every deployment lets a serving job return on its own.
        Deployment.objects.filter(state__in=Deployment.ACTIVE).update(
            state=Deployment.UNDEPLOYED
        )
        # The test waited for its jobs' results; a worker lingering in its
        # shutdown after that is killed.
        self.process.terminate()
        try:
            self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def inference_worker(redis_queues, tmp_path):
    worker = BackgroundWorker(tmp_path / "inference-worker.log")
    yield worker
    worker.stop()


@pytest.fixture
def background_worker(redis_queues, tmp_path):
    worker = BackgroundWorker(tmp_path / "worker.log")
    yield worker
    worker.stop()


@pytest.fixture(scope="session")
def web_server(django_db_setup, django_db_blocker, test_redis):
    """gunicorn serving the portal on the test database."""
    port = free_port()
    with django_db_blocker.unblock():
        env = worker_env("dpo_portal.test_settings")
    command = [sys.executable, "-m", "gunicorn", "dpo_portal.wsgi:application"]
    command += ["--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "4"]
    command += ["--no-control-socket"]
    process = subprocess.Popen(command, cwd=settings.BASE_DIR, env=env)

    def answers():
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", port)) == 0

    try:
        wait_for(answers, "gunicorn to listen", 60)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=20)


def ready_dataset(user, dataset_id="prefs", count=8):
    """A READY dataset with `count` valid examples (validation itself is tested
    elsewhere)."""
    from datasets_app.models import Dataset
    from tests.helpers import jsonl_bytes, new_dataset

    dataset = new_dataset(user, dataset_id)
    dataset.folder.mkdir(parents=True, exist_ok=True)
    dataset.file_path.write_bytes(jsonl_bytes(count))
    Dataset.objects.filter(pk=dataset.pk).update(
        state=Dataset.STATE_READY, example_count=count
    )
    dataset.refresh_from_db()
    return dataset
