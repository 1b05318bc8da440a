"""Worker tasks on models: serving (`inference` queue), the preference check
(`training`, it wants the GPU) and merging (`default`).

Nothing here imports torch at module level: the worker's parent process imports
this module, and CUDA must first be touched in the forked work horse.
"""

import logging

from django.utils import timezone

from jobs_app.tasks import failure_reason
from models_app.models import MergedExport, ModelTask, PreferenceCheck

log = logging.getLogger(__name__)


def serve_base(base_pk):
    from models_app.serving import serve

    serve(base_pk)


def run_preference_check(check_pk):
    from models_app.preference import check_preferences

    check = PreferenceCheck.objects.select_related("model__base", "dataset").get(
        pk=check_pk
    )
    if not _start(check):
        return

    def progress(done, total):
        PreferenceCheck.objects.filter(pk=check.pk).update(done=done, total=total)

    try:
        result = check_preferences(
            check.model.path,
            check.model.base.path,
            check.dataset.file_path,
            check.beta,
            check.max_examples,
            progress,
        )
    except Exception as exc:
        log.exception("preference check %s failed", check.pk)
        _fail(check, exc)
        return
    _finish(check, result=result)
    log.info(
        "preference check of %s on %s: tuned %.3f, base %.3f",
        check.model.name,
        check.dataset.name,
        result.get("tuned_accuracy", 0),
        result.get("base_accuracy", 0),
    )


def run_merge(export_pk):
    from models_app.export import merge_to_zip

    export = MergedExport.objects.select_related("model__base", "model__account").get(
        pk=export_pk
    )
    if not _start(export):
        return

    try:
        size = merge_to_zip(
            export.model.path,
            export.model.base.path,
            export.zip_path,
            f"{export.model.model_id}-merged",
        )
    except Exception as exc:
        log.exception("merge %s failed", export.pk)
        _fail(export, exc)
        return
    _finish(export, size_bytes=size)


def _start(task):
    started = (
        type(task)
        .objects.filter(pk=task.pk, state=ModelTask.PENDING)
        .update(state=ModelTask.RUNNING, started_at=timezone.now())
    )
    if not started:
        log.info("%s is %s; not starting it", task, task.state)
    return bool(started)


def _finish(task, **values):
    type(task).objects.filter(pk=task.pk, state=ModelTask.RUNNING).update(
        state=ModelTask.COMPLETED, finished_at=timezone.now(), **values
    )


def _fail(task, exc):
    type(task).objects.filter(pk=task.pk, state=ModelTask.RUNNING).update(
        state=ModelTask.FAILED,
        failure_reason=failure_reason(exc),
        finished_at=timezone.now(),
    )
