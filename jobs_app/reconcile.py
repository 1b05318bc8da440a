"""The reconciler: makes the database's jobs and RQ's queues agree again.

It runs every DPO_RECONCILE_SECONDS inside every worker (jobs_app/worker.py) and
can run on its own (`manage.py reconcile_jobs --loop`). One pass:

1. A working job (VALIDATING, RUNNING, WRITING_RESULTS, CANCELLING) whose
   heartbeat is older than DPO_LOST_AFTER_SECONDS, and that RQ no longer sees in
   a live worker's hands (its execution gone from the StartedJobRegistry, marked
   failed or abandoned, or its worker silent), has lost its worker. It goes to
   RE_QUEUEING, then back to PENDING on its queue to resume from its last
   checkpoint, until it has started DPO_MAX_ATTEMPTS times; then FAILED with the
   reason. A job lost while cancelling becomes CANCELLED.
2. A PENDING job that RQ does not hold (Redis was down when it was created, or
   was flushed) is enqueued again.

Passes are safe to run side by side: every move is conditional, and a Redis lock
keeps two reconcilers from enqueueing the same job twice at once.
"""

import logging
from dataclasses import dataclass, field
from datetime import timedelta

import django_rq
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from redis.exceptions import RedisError
from rq import Worker
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from jobs_app import states
from jobs_app.models import DpoJob
from jobs_app.services import enqueue_training

log = logging.getLogger(__name__)

WORKING = {states.VALIDATING, states.RUNNING, states.WRITING_RESULTS, states.CANCELLING}
HELD_BY_RQ = {
    JobStatus.QUEUED,
    JobStatus.STARTED,
    JobStatus.SCHEDULED,
    JobStatus.DEFERRED,
}
LOCK_KEY = "dpo:reconcile:lock"


@dataclass
class Outcome:
    queue_available: bool = True
    requeued: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    cancelled: list = field(default_factory=list)
    enqueued: list = field(default_factory=list)

    def __str__(self):
        if not self.queue_available:
            return "Redis does not answer; nothing reconciled."
        return (
            f"re-queued {len(self.requeued)}, failed {len(self.failed)}, cancelled "
            f"{len(self.cancelled)}, enqueued {len(self.enqueued)} pending"
        )


def reconcile(now=None):
    """One pass over the jobs; an Outcome naming the jobs it moved."""
    now = now or timezone.now()
    outcome = Outcome()
    try:
        connection = django_rq.get_connection("default")
        if not connection.set(LOCK_KEY, "1", nx=True, px=_lock_ms()):
            return outcome
        try:
            _recover_lost_jobs(now, outcome)
            _enqueue_unheld_pending(now, outcome)
        finally:
            connection.delete(LOCK_KEY)
    except RedisError as exc:
        log.warning("reconciler: Redis does not answer (%s)", exc)
        outcome.queue_available = False
    return outcome


def _lock_ms():
    return max(1000, settings.DPO_RECONCILE_SECONDS * 1000)


def _recover_lost_jobs(now, outcome):
    stale_before = now - timedelta(seconds=settings.DPO_LOST_AFTER_SECONDS)
    candidates = DpoJob.objects.filter(state__in=WORKING).filter(
        heartbeat_at__lt=stale_before
    ) | DpoJob.objects.filter(state__in=WORKING, heartbeat_at__isnull=True)
    for job in candidates.select_related("account"):
        if _rq_still_running(job, stale_before):
            continue
        _recover(job, outcome)


def _rq_still_running(job, stale_before):
    """True while RQ says a live worker is executing the job's RQ job."""
    connection = django_rq.get_connection(job.queue)
    try:
        rq_job = Job.fetch(job.rq_job_id, connection=connection)
    except NoSuchJobError:
        return False
    if rq_job.get_status() != JobStatus.STARTED:
        return False  # failed or abandoned: the work horse is gone

    queue = django_rq.get_queue(job.queue)
    if rq_job.id not in queue.started_job_registry.get_job_ids():
        return False  # the execution's registry entry expired: abandoned
    worker = Worker.find_by_key(
        Worker.redis_worker_namespace_prefix + (rq_job.worker_name or ""),
        connection=connection,
    )
    if worker is None or worker.last_heartbeat is None:
        return False
    return worker.last_heartbeat > stale_before


def _recover(job, outcome):
    silent = "no heartbeat" if job.heartbeat_at is None else "a stale heartbeat"
    reason = (
        f"The worker running it was lost ({silent}, last at "
        f"{job.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC)."
        if job.heartbeat_at
        else f"The worker running it was lost ({silent})."
    )
    if job.state == states.CANCELLING:
        if states.move(
            job,
            {states.CANCELLING},
            states.CANCELLED,
            f"{reason} It was being cancelled: now cancelled; checkpoints are kept.",
            level="WARNING",
        ):
            outcome.cancelled.append(job.job_id)
        return

    if not states.move(
        job, WORKING - {states.CANCELLING}, states.RE_QUEUEING, reason, level="WARNING"
    ):
        return

    if job.attempts >= settings.DPO_MAX_ATTEMPTS:
        if states.move(
            job,
            {states.RE_QUEUEING},
            states.FAILED,
            f"Not re-queued: it started {job.attempts} times, the most allowed.",
            level="ERROR",
            failure_reason=(
                f"{reason} It was started {job.attempts} times "
                f"(DPO_MAX_ATTEMPTS={settings.DPO_MAX_ATTEMPTS}) and each time its "
                "worker was lost; check the workers' memory and logs, then retry."
            ),
        ):
            outcome.failed.append(job.job_id)
        return

    checkpoint = job.last_checkpoint()
    where = f"from {checkpoint.name}" if checkpoint else "from the start"
    with transaction.atomic():
        if states.move(
            job,
            {states.RE_QUEUEING},
            states.PENDING,
            f"Queued again (attempt {job.attempts + 1} of "
            f"{settings.DPO_MAX_ATTEMPTS}); it resumes {where}.",
        ):
            enqueue_training(job)
            outcome.requeued.append(job.job_id)


def _enqueue_unheld_pending(now, outcome):
    settled_before = now - timedelta(seconds=settings.DPO_PENDING_GRACE_SECONDS)
    pending = DpoJob.objects.filter(
        state=states.PENDING, updated_at__lte=settled_before
    )
    for job in pending.select_related("account"):
        if _held_by_rq(job):
            continue
        with transaction.atomic():
            job.events.create(
                message="Its queue entry was missing (Redis down or flushed); "
                "enqueued again."
            )
            enqueue_training(job)
        outcome.enqueued.append(job.job_id)


def _held_by_rq(job):
    if not job.rq_job_id:
        return False
    connection = django_rq.get_connection(job.queue)
    try:
        status = Job.fetch(job.rq_job_id, connection=connection).get_status()
    except NoSuchJobError:
        return False
    return status in HELD_BY_RQ
