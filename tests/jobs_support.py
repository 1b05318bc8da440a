"""Shared set-up for the job lifecycle tests: ready datasets, the tiny base model,
worker processes that run in the background and can be killed."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

from datasets_app.models import Dataset
from dpo_portal.accounts import personal_account
from jobs_app.models import DpoJob, LanguageModel
from jobs_app.params import DpoParams
from tests.helpers import jsonl_bytes, new_dataset

QUICK = DpoParams(
    epochs=2,
    learning_rate=1e-3,
    batch_size=2,
    max_context_length=128,
    lora_rank=4,
    lora_alpha=8,
    warmup_ratio=0.0,
)


def ready_dataset(user, dataset_id="prefs", body=None):
    """A READY dataset holding `body` (default: 8 valid pairs). The validator has
    its own tests; these start where it has said yes."""
    dataset = new_dataset(user, dataset_id)
    dataset.folder.mkdir(parents=True, exist_ok=True)
    dataset.file_path.write_bytes(body if body is not None else jsonl_bytes(8))
    Dataset.objects.filter(pk=dataset.pk).update(
        state=Dataset.STATE_READY, file_name="examples.jsonl"
    )
    dataset.refresh_from_db()
    return dataset


def jsonl(rows):
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


def tiny_base(folder):
    return LanguageModel.objects.create(
        model_id="tiny-base",
        kind=LanguageModel.KIND_BASE,
        path=str(folder),
        context_length=2048,
    )


def owner_account(user):
    return personal_account(user)


def worker_env(**extra):
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = "dpo_portal.test_settings"
    env["DATABASE_URL"] = f"sqlite:///{connection.settings_dict['NAME']}"
    env["REDIS_URL"] = settings.REDIS_URL
    env.update({k: str(v) for k, v in extra.items()})
    return env


def start_worker(queues=("training",), burst=False, **env):
    """A real RQ worker process in the background; `env` adds variables."""
    command = [sys.executable, "manage.py", "rqworker", *queues]
    if burst:
        command.insert(3, "--burst")
    return subprocess.Popen(
        command,
        cwd=settings.BASE_DIR,
        env=worker_env(**env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition, timeout=120, every=0.2, what="the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def job_row(job):
    return DpoJob.objects.get(pk=job.pk)


def children_of(pid):
    """Process IDs whose parent is `pid` (the worker's work horse)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        children = (task / "children").read_text().split()
        found.extend(int(child) for child in children)
    return found


def kill_hard(process):
    """SIGKILL the worker and its work horse, as an out-of-memory kill would."""
    horses = children_of(process.pid)
    for pid in horses:
        os.kill(pid, signal.SIGKILL)
    process.kill()
    process.wait(timeout=10)
    for pid in horses:
        wait_for(lambda pid=pid: not Path(f"/proc/{pid}").exists() or _zombie(pid))
    return horses


def _zombie(pid):
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except FileNotFoundError:
        return True
