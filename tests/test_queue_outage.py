"""A Redis outage with a real redis-server the test starts and stops on its own port:
the job is saved, the page says the queue is unavailable, the reconciler enqueues it
once Redis answers, and a worker then trains it."""

import subprocess

import pytest
from django.core.management import call_command
from django.test import override_settings
from redis import Redis

from dpo_portal.local_redis import redis_answers, redis_binary
from jobs_app import states
from jobs_app.reconcile import reconcile
from jobs_app.services import create_job
from tests.jobs_support import (
    QUICK,
    job_row,
    owner_account,
    ready_dataset,
    tiny_base,
    wait_for,
)
from tests.ports import free_port

pytestmark = pytest.mark.django_db(transaction=True)


class RedisServer:
    """A redis-server of the test's own, started and stopped at will."""

    def __init__(self, folder):
        self.port = free_port()
        self.folder = folder
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self):
        command = [redis_binary(), "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.folder)]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for(lambda: redis_answers(self.url), timeout=10, what="redis-server")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)
        wait_for(lambda: not redis_answers(self.url), timeout=10, what="Redis down")

    def queues(self):
        return {
            "default": {"URL": self.url, "DEFAULT_TIMEOUT": 3600},
            "training": {"URL": self.url, "DEFAULT_TIMEOUT": -1},
        }


@pytest.fixture
def own_redis(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    with override_settings(REDIS_URL=server.url, RQ_QUEUES=server.queues()):
        yield server
    if server.process.poll() is None:
        server.stop()


def test_a_job_created_while_redis_is_down_is_queued_and_trained_once_it_answers(
    owner, owner_client, tiny_model_dir, run_worker, own_redis, capsys
):
    dataset = ready_dataset(owner)
    own_redis.stop()

    job = create_job(
        owner_account(owner), dataset, tiny_base(tiny_model_dir), "tuned", QUICK
    )

    assert job_row(job).state == states.PENDING
    assert job_row(job).rq_job_id == ""
    page = owner_client.get(f"/jobs/{job.job_id}/").content.decode()
    assert "The queue is unavailable" in page
    assert not reconcile().queue_available
    call_command("reconcile_jobs")
    assert "Redis does not answer" in capsys.readouterr().out

    own_redis.start()
    outcome = reconcile()

    assert outcome.enqueued == [job.job_id]
    assert job_row(job).rq_job_id == f"dpo-job-{job.pk}"
    assert "Its queue entry was missing" in job.events.last().message
    run_worker(["training"])
    assert job_row(job).state == states.COMPLETED


def test_a_pending_job_whose_queue_entry_was_flushed_is_queued_again(
    owner, tiny_model_dir, own_redis
):
    dataset = ready_dataset(owner)
    job = create_job(
        owner_account(owner), dataset, tiny_base(tiny_model_dir), "tuned", QUICK
    )
    redis = Redis.from_url(own_redis.url)
    redis.flushdb()

    outcome = reconcile()

    assert outcome.enqueued == [job.job_id]
    assert redis.llen("rq:queue:training") == 1
    assert reconcile().enqueued == []  # held by RQ now: not enqueued twice
