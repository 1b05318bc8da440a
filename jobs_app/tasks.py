"""The `training` worker's task: run one DPO job and record what happened.

Nothing here imports torch at module level: the worker's parent process imports
this module, and CUDA must first be touched in the forked work horse.
"""

import logging
from contextlib import contextmanager

from django.utils import timezone

from jobs_app import states
from jobs_app.base_models import folder_size
from jobs_app.models import DpoJob, LanguageModel
from jobs_app.params import DpoParams

log = logging.getLogger(__name__)

# transformers keeps its own handler and does not propagate; the rest reach the root.
RUN_LOGGERS = ["", "transformers"]


def run_dpo_job(job_pk):
    job = DpoJob.objects.select_related("account", "dataset", "base_model").get(
        pk=job_pk
    )
    started = states.move(
        job,
        {states.PENDING},
        states.RUNNING,
        "Training started.",
        started_at=timezone.now(),
        heartbeat_at=timezone.now(),
    )
    if not started:
        log.info("job %s is %s; not starting it", job.job_id, job.state)
        return

    job.folder.mkdir(parents=True, exist_ok=True)
    with job_log_file(job):
        try:
            _train_and_record(job)
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


def _train_and_record(job):
    from jobs_app.training.run import pick_device, train_adapter

    device, device_name = pick_device()
    DpoJob.objects.filter(pk=job.pk).update(device=f"{device} ({device_name})")
    job.events.create(message=f"Training on {device_name}.")

    params = DpoParams.from_dict(job.params)
    adapter_dir = train_adapter(
        job, job.base_model.path, job.dataset.file_path, params, device
    )

    job.refresh_from_db(fields=["state"])
    if job.state == states.CANCELLING:
        states.move(
            job,
            {states.CANCELLING},
            states.CANCELLED,
            f"Cancelled; the adapter trained so far is kept in {adapter_dir}.",
        )
        return

    states.move(job, {states.RUNNING}, states.WRITING_RESULTS, "Saving the adapter.")
    model = LanguageModel.objects.create(
        account=job.account,
        model_id=job.output_model_id,
        display_name=job.output_model_id,
        kind=LanguageModel.KIND_FINE_TUNED,
        path=str(adapter_dir),
        base=job.base_model,
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
    """Send everything the run logs to the job's own file, which the page tails."""
    handler = logging.FileHandler(job.log_path, encoding="utf-8")
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    handler.setLevel(logging.INFO)
    loggers = [logging.getLogger(name) for name in RUN_LOGGERS]
    for logger in loggers:
        logger.addHandler(handler)
        if logger.level == logging.NOTSET or logger.level > logging.INFO:
            logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
        handler.close()
