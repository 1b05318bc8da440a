"""The DPO job's states, named as the hosted platforms name them, and moves.

Every move is a conditional update: it names the states the job may be in, so the web
process and a worker can never undo each other's change. A move that happens writes
an event.
"""

import logging

from django.utils import timezone

log = logging.getLogger(__name__)

CREATING = "JOB_STATE_CREATING"
PENDING = "JOB_STATE_PENDING"
VALIDATING = "JOB_STATE_VALIDATING"
RUNNING = "JOB_STATE_RUNNING"
WRITING_RESULTS = "JOB_STATE_WRITING_RESULTS"
COMPLETED = "JOB_STATE_COMPLETED"
FAILED = "JOB_STATE_FAILED"
CANCELLING = "JOB_STATE_CANCELLING"
CANCELLED = "JOB_STATE_CANCELLED"
RE_QUEUEING = "JOB_STATE_RE_QUEUEING"


def _label(state):
    words = state.removeprefix("JOB_STATE_").replace("_", " ").capitalize()
    return words.replace("Re queueing", "Re-queueing")


CHOICES = [
    (state, _label(state))
    for state in [
        CREATING,
        PENDING,
        VALIDATING,
        RUNNING,
        WRITING_RESULTS,
        COMPLETED,
        FAILED,
        CANCELLING,
        CANCELLED,
        RE_QUEUEING,
    ]
]

ACTIVE = {
    CREATING,
    PENDING,
    VALIDATING,
    RUNNING,
    WRITING_RESULTS,
    CANCELLING,
    RE_QUEUEING,
}
FINAL = {COMPLETED, FAILED, CANCELLED}


def short(state):
    return state.removeprefix("JOB_STATE_")


def move(job, expected, to, message, level="INFO", data=None, **fields):
    """Move `job` to state `to` if it is in one of `expected`; True when it moved."""
    from jobs_app.models import DpoJob, JobEvent

    now = timezone.now()
    if to in FINAL:
        fields.setdefault("finished_at", now)
    changed = DpoJob.objects.filter(pk=job.pk, state__in=list(expected)).update(
        state=to, updated_at=now, **fields
    )
    if not changed:
        return False

    job.state = to
    for name, value in fields.items():
        setattr(job, name, value)
    JobEvent.objects.create(job=job, level=level, message=message, data=data)
    log.info("job %s: %s (%s)", job.job_id, short(to), message)
    return True
