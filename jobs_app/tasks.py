"""The `training` worker's task: run one DPO job and record what happened.

Nothing here imports torch at module level: the worker's parent process imports
this module, and CUDA must first be touched in the forked work horse.
"""

import logging
import os
import sys
from contextlib import contextmanager

from django.utils import timezone

from jobs_app import states
from jobs_app.base_models import folder_size
from jobs_app.heartbeat import Heartbeat
from jobs_app.models import DpoJob, LanguageModel
from jobs_app.params import DpoParams

log = logging.getLogger(__name__)

# transformers keeps its own handler and does not propagate; the rest reach the root.
RUN_LOGGERS = ["", "transformers"]


def run_dpo_job(job_pk):
    job = DpoJob.objects.select_related(
        "account", "dataset", "eval_dataset", "base_model"
    ).get(pk=job_pk)
    now = timezone.now()
    attempt = job.attempts + 1
    started = states.move(
        job,
        {states.PENDING},
        states.VALIDATING,
        f"Attempt {attempt} started on a worker; checking the pairs against the "
        "base model's chat template and context.",
        started_at=job.started_at or now,
        heartbeat_at=now,
        attempts=attempt,
    )
    if not started:
        log.info("job %s is %s; not starting it", job.job_id, job.state)
        return

    job.folder.mkdir(parents=True, exist_ok=True)
    with job_log_file(job), Heartbeat(job) as heartbeat:
        try:
            _train_and_record(job, heartbeat)
        except Exception as exc:
            log.exception("job %s failed", job.job_id)
            states.move(
                job,
                states.ACTIVE,
                states.FAILED,
                "Training failed.",
                level="ERROR",
                failure_reason=failure_reason(exc),
            )


def _train_and_record(job, heartbeat):
    from jobs_app.training.run import peak_memory_bytes, pick_device, train_adapter

    device, device_name = pick_device()
    DpoJob.objects.filter(pk=job.pk).update(device=f"{device} ({device_name})")
    job.events.create(message=f"Device: {device_name}.")

    params = DpoParams.from_dict(job.params)
    eval_path = job.eval_dataset.file_path if job.eval_dataset_id else None
    try:
        adapter_dir = train_adapter(job, params, device, heartbeat, eval_path)
    finally:
        DpoJob.objects.filter(pk=job.pk).update(
            peak_memory_bytes=peak_memory_bytes(device)
        )

    if adapter_dir is None:
        checkpoint = job.last_checkpoint()
        kept = (
            f"the adapter trained so far is kept in {checkpoint}"
            if checkpoint
            else "no step had finished, so there is no checkpoint"
        )
        states.move(job, {states.CANCELLING}, states.CANCELLED, f"Cancelled; {kept}.")
        return

    if not states.move(
        job, {states.RUNNING}, states.WRITING_RESULTS, "Saving the adapter."
    ):
        # Cancelled between the last step and here: the whole adapter is kept.
        states.move(
            job,
            {states.CANCELLING},
            states.CANCELLED,
            f"Cancelled after the last step; the adapter is kept in {adapter_dir}.",
        )
        return
    model = LanguageModel.objects.create(
        account=job.account,
        model_id=job.output_model_id,
        display_name=job.output_model_id,
        kind=LanguageModel.KIND_FINE_TUNED,
        path=str(adapter_dir),
        base=job.base_model.weights_model,
        context_length=job.base_model.context_length,
        size_bytes=folder_size(adapter_dir),
    )
    states.move(
        job,
        {states.WRITING_RESULTS},
        states.COMPLETED,
        f"Completed; adapter saved as {model.name}.",
        fine_tuned_model=model,
    )


def failure_reason(exc):
    """A sentence a user can act on; the traceback stays in the job's log."""
    # Libraries wrap the real problem ("error while generating the dataset");
    # the innermost cause is the one that says what to fix.
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__
    text = str(exc).strip() or type(exc).__name__
    if "out of memory" in text.lower():
        return (
            f"The device ran out of memory ({text[:300]}). Lower the batch size or "
            "the max context length, or raise gradient accumulation instead."
        )
    return f"{type(exc).__name__}: {text[:1000]}"


@contextmanager
def job_log_file(job):
    """Send everything the run writes to the job's own file, which the page tails.

    The work horse's stdout and stderr themselves (file descriptors 1 and 2) point
    at the file for the run, so prints, warnings, progress bars and C libraries
    land there too, and a full pipe to a terminal or supervisor can never block
    training. The worker's own output comes back once the job ends.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    log_file = open(job.log_path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
    os.dup2(log_file.fileno(), 1)
    os.dup2(log_file.fileno(), 2)

    root = logging.getLogger()
    added = None
    if not root.handlers:
        added = logging.StreamHandler(sys.stderr)
        root.addHandler(added)
    loggers = [logging.getLogger(name) for name in RUN_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        if logger.level == logging.NOTSET or logger.level > logging.INFO:
            logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
        if added:
            root.removeHandler(added)
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])
        log_file.close()
