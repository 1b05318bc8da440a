"""What a user (page, admin, API) can do to a job once it exists: cancel, retry, clone.

Each function returns (done, message): `done` says whether the job moved, `message`
is a sentence to show the user either way.
"""

import logging

import django_rq
from django.db import transaction
from redis.exceptions import RedisError
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job

from jobs_app import states
from jobs_app.models import DpoJob
from jobs_app.services import enqueue_training

log = logging.getLogger(__name__)

# The worker notices CANCELLING at the end of the step it is in. WRITING_RESULTS
# lasts seconds and is not interrupted.
CANCEL_WHILE_WORKING = {states.VALIDATING, states.RUNNING}
CANCEL_BEFORE_START = {states.CREATING, states.PENDING, states.RE_QUEUEING}


def cancel_job(job, by="the user"):
    """Cancel a job: at once when it waits, at the end of this step when it runs."""
    if states.move(
        job, CANCEL_BEFORE_START, states.CANCELLED, f"Cancelled by {by} before it ran."
    ):
        _drop_from_queue(job)
        return True, "The job was cancelled before it ran."

    if states.move(
        job,
        CANCEL_WHILE_WORKING,
        states.CANCELLING,
        f"Cancel asked by {by}; training stops at the end of the current step.",
    ):
        return True, "Cancelling: training stops at the end of the current step."

    return False, f"The job is {states.short(job.state)}; there is nothing to cancel."


def retry_job(job, by="the user"):
    """Run a FAILED job again, from its last checkpoint when it has one."""
    checkpoint = job.last_checkpoint()
    where = f"from {checkpoint.name}" if checkpoint else "from the start"
    with transaction.atomic():
        moved = states.move(
            job,
            {states.FAILED},
            states.PENDING,
            f"Retried by {by}; it runs again {where}.",
            failure_reason="",
            finished_at=None,
            attempts=0,
        )
        if moved:
            enqueue_training(job)
    if not moved:
        return False, f"Only a failed job can be retried; this one is {job.state}."
    return True, f"The job is queued again and runs {where}."


def clone_initial(job):
    """The create form's initial values that repeat `job` under new IDs."""
    initial = dict(job.params)
    initial["dataset"] = job.dataset.dataset_id
    initial["base_model"] = job.base_model.model_id
    if job.eval_dataset_id:
        initial["eval_dataset"] = job.eval_dataset.dataset_id
    initial["queue"] = job.queue
    return initial


def _drop_from_queue(job):
    """Take a cancelled job's entry off the RQ queue, so no worker picks it up.

    The worker would skip it anyway (it starts only PENDING jobs); removing it keeps
    the queue's length honest. With Redis down there is nothing to remove yet, and
    the reconciler never enqueues a CANCELLED job.
    """
    # The row, not the object: the ID is written once Redis has taken the job.
    rq_job_id = DpoJob.objects.filter(pk=job.pk).values_list("rq_job_id", flat=True)[0]
    if not rq_job_id:
        return
    try:
        connection = django_rq.get_connection(job.queue)
        rq_job = Job.fetch(rq_job_id, connection=connection)
        rq_job.cancel()
    except (NoSuchJobError, InvalidJobOperation):
        return
    except RedisError as exc:
        log.warning("job %s: could not drop it from its queue: %s", job.job_id, exc)
