"""Enqueueing work on RQ, after the database transaction that made it commits."""

import logging

import django_rq
from django.db import transaction
from redis.exceptions import RedisError
from rq import Worker

log = logging.getLogger(__name__)


def enqueue_on_commit(queue_name, func_path, *args, job_id=None, on_enqueued=None):
    """Enqueue after commit, so the worker never looks for a row not yet visible."""

    def enqueue():
        try:
            queue = django_rq.get_queue(queue_name)
            rq_job = queue.enqueue(func_path, *args, job_id=job_id)
        except RedisError as exc:
            # The row stays PENDING; the reconciler enqueues it once Redis answers.
            log.warning(
                "could not enqueue %s%s on %s: %s", func_path, args, queue_name, exc
            )
            return
        if on_enqueued:
            on_enqueued(rq_job)

    transaction.on_commit(enqueue)


def workers_online():
    """{queue name: number of workers listening}, or None when Redis is down."""
    try:
        connection = django_rq.get_connection("default")
        counts = {}
        for worker in Worker.all(connection=connection):
            for name in worker.queue_names():
                counts[name] = counts.get(name, 0) + 1
        return counts
    except RedisError:
        return None
