import json
import os

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from datasets_app.token_tables import token_tables
from dpo_portal.accounts import (
    current_account,
    get_for_user,
    in_current_account,
    require_write,
)
from dpo_portal.queues import workers_online
from jobs_app import states
from jobs_app.base_models import folder_size
from jobs_app.forms import NewJobForm
from jobs_app.lifecycle import (
    CANCEL_BEFORE_START,
    CANCEL_WHILE_WORKING,
    cancel_job,
    clone_initial,
    retry_job,
)
from jobs_app.models import DpoJob, JobMetric
from jobs_app.params import PRESETS, preset_params
from jobs_app.services import create_job, suggested_output_model_id

CANCELLABLE = CANCEL_BEFORE_START | CANCEL_WHILE_WORKING

CHARTED = [
    "loss",
    "rewards/margins",
    "rewards/accuracies",
    "rewards/chosen",
    "rewards/rejected",
]
LOG_TAIL_BYTES = 64 * 1024


def _job(request, job_id, write=False):
    return get_for_user(
        DpoJob.objects.select_related(
            "account", "dataset", "base_model", "fine_tuned_model"
        ),
        request.user,
        write=write,
        prefer=current_account(request),
        job_id=job_id,
    )


@login_required
def job_list(request):
    jobs = in_current_account(DpoJob.objects, request).select_related("dataset")
    state = request.GET.get("state", "")
    if state:
        jobs = jobs.filter(state=state)
    context = {"jobs": jobs, "state": state, "states": states.CHOICES}
    return render(request, "jobs/list.html", context)


@login_required
def job_new(request):
    account = current_account(request)
    if request.method == "POST":
        require_write(account, request.user)
    form = NewJobForm(request.POST or None, account=account, initial=_initial(request))
    if request.method == "POST" and form.is_valid():
        dataset = form.cleaned_data["dataset"]
        output_model_id = form.cleaned_data[
            "output_model_id"
        ].strip() or suggested_output_model_id(account, dataset)
        try:
            job = create_job(
                account,
                dataset,
                form.cleaned_data["base_model"],
                output_model_id,
                form.params(),
                user=request.user,
                eval_dataset=form.cleaned_data["eval_dataset"],
                queue=form.cleaned_data["queue"] or None,
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            return redirect("job_detail", job.job_id)
    context = {"form": form, "presets": PRESETS, "preset": request.GET.get("preset")}
    return render(request, "jobs/new.html", context)


def _initial(request):
    """The form's starting values: a clone of a job, a preset, or the defaults."""
    clone = request.GET.get("clone")
    if clone:
        return clone_initial(_job(request, clone))
    initial = {"dataset": request.GET.get("dataset")}
    preset = request.GET.get("preset")
    if preset in PRESETS:
        initial.update(preset_params(preset).to_dict())
    return initial


@login_required
def job_detail(request, job_id):
    job = _job(request, job_id)
    context = {
        **_live_context(job),
        "log_tail": _log_tail(job),
        "token_tables": token_tables(job.dataset, job.base_model.name),
    }
    return render(request, "jobs/detail.html", context)


@login_required
def job_live(request, job_id):
    """The live part of the job page, polled by htmx while the job is active."""
    job = _job(request, job_id)
    return render(request, "jobs/_live.html", _live_context(job))


@login_required
def job_metrics(request, job_id):
    job = _job(request, job_id)
    after = int(request.GET.get("after", -1))
    rows = JobMetric.objects.filter(job=job, step__gt=after).order_by("step", "id")
    points = [{"step": m.step, "epoch": m.epoch, **m.values} for m in rows]
    return JsonResponse({"state": job.state, "metrics": points})


@login_required
def job_log(request, job_id):
    """The end of the job's log file, polled by htmx while the job is active."""
    job = _job(request, job_id)
    return render(request, "jobs/_log.html", {"job": job, "log_tail": _log_tail(job)})


@login_required
def job_metrics_jsonl(request, job_id):
    """Every logged step as one JSON object a line, for download."""
    job = _job(request, job_id)
    rows = JobMetric.objects.filter(job=job).order_by("step", "id").iterator()
    lines = (
        json.dumps({"step": m.step, "epoch": m.epoch, **m.values}) + "\n" for m in rows
    )
    response = StreamingHttpResponse(lines, content_type="application/jsonl")
    response["Content-Disposition"] = (
        f'attachment; filename="{job.job_id}-metrics.jsonl"'
    )
    return response


@login_required
@require_POST
def job_cancel(request, job_id):
    job = _job(request, job_id, write=True)
    done, message = cancel_job(job, by=request.user.get_username())
    (messages.info if done else messages.warning)(request, message)
    return redirect("job_detail", job.job_id)


@login_required
@require_POST
def job_retry(request, job_id):
    job = _job(request, job_id, write=True)
    done, message = retry_job(job, by=request.user.get_username())
    (messages.info if done else messages.warning)(request, message)
    return redirect("job_detail", job.job_id)


def _live_context(job):
    elapsed = None
    if job.started_at:
        elapsed = int(
            ((job.finished_at or timezone.now()) - job.started_at).total_seconds()
        )
    online = workers_online()
    return {
        "job": job,
        "state": states.short(job.state),
        "elapsed": elapsed,
        "latest": sorted(job.latest_metrics.items()),
        "events": job.events.all().order_by("created_at", "id"),
        "checkpoints": [
            {"step": step, "name": path.name, "size": folder_size(path)}
            for step, path in job.checkpoints()
        ],
        "queue_unavailable": online is None,
        "no_worker": online is not None and job.is_active and not online.get(job.queue),
        "charted": CHARTED,
        "can_cancel": job.state in CANCELLABLE,
        "can_retry": job.state == states.FAILED,
    }


def _log_tail(job):
    try:
        with open(job.log_path, "rb") as log_file:
            log_file.seek(0, os.SEEK_END)
            size = log_file.tell()
            log_file.seek(max(0, size - LOG_TAIL_BYTES))
            tail = log_file.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    if size > LOG_TAIL_BYTES:
        tail = tail.split("\n", 1)[-1]  # drop the cut first line
    return tail
