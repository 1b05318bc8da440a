"""Stopping what `make run` and `make demo` started leaves nothing running."""

import os
import subprocess
import sys
import time

import django_rq
import psutil
from django.conf import settings

from dpo_portal.processes import stop_process


def test_stopping_a_busy_worker_also_stops_its_work_horse(redis_queues):
    django_rq.get_queue("default").enqueue("time.sleep", 120)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "dpo_portal.test_settings"}
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "rqworker", "default"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    horse = wait_for_child(worker.pid)

    stop_process(worker, wait_seconds=5)

    assert worker.poll() is not None
    horse_gone = not horse.is_running() or horse.status() == psutil.STATUS_ZOMBIE
    assert horse_gone


def wait_for_child(pid, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        children = psutil.Process(pid).children()
        if children:
            return children[0]
        time.sleep(0.2)
    raise AssertionError("the worker never started its work horse")
