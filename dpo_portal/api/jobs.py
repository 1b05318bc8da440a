"""DPO jobs over the API: create, read, list by state, cancel, delete, and the
run's metrics (JSON pages or a JSONL export) and events."""

import json
import shutil

from django.core.exceptions import ValidationError
from django.http import JsonResponse, StreamingHttpResponse

from dpo_portal.api.endpoint import json_body, page
from dpo_portal.api.errors import ApiError, field_problems
from dpo_portal.api.job_body import BODY_NAMES, read_job_body
from dpo_portal.api.shapes import event_shape, job_shape, metric_shape
from jobs_app import states
from jobs_app.lifecycle import cancel_job
from jobs_app.models import DpoJob, JobMetric
from jobs_app.services import create_job

STATE_NAMES = [state for state, _ in states.CHOICES]


def _jobs(account):
    return DpoJob.objects.filter(account=account).select_related(
        "account",
        "dataset__account",
        "base_model__account",
        "fine_tuned_model__account",
        "created_by",
    )


def _job(account, job_id):
    job = _jobs(account).filter(job_id=job_id).first()
    if job is None:
        raise ApiError("NOT_FOUND", f"DPO job {job_id!r} not found in {account}.")
    return job


def list_jobs(request, account):
    jobs = _jobs(account)
    state = request.GET.get("state", "")
    if state:
        if not state.startswith("JOB_STATE_"):
            state = f"JOB_STATE_{state.upper()}"
        if state not in STATE_NAMES:
            raise ApiError(
                "INVALID_ARGUMENT",
                f"state is {request.GET['state'][:40]!r}; accepted: "
                + ", ".join(STATE_NAMES),
                [{"field": "state", "message": "one of the JOB_STATE_* names"}],
            )
        jobs = jobs.filter(state=state)
    return page(request, jobs.order_by("-created_at", "-pk"), "dpoJobs", job_shape)


def create(request, account):
    body = json_body(request)
    job_id, dataset, base_model, output_model, params = read_job_body(body, account)
    try:
        job = create_job(
            account,
            dataset,
            base_model,
            output_model,
            params,
            user=request.user,
            job_id=job_id,
        )
    except ValidationError as exc:
        details = field_problems(exc.message_dict, BODY_NAMES)
        code = "INVALID_ARGUMENT"
        if any(
            "already used" in d["message"] for d in details if d["field"] == "dpoJobId"
        ):
            code = "ALREADY_EXISTS"
        summary = "; ".join(f"{d['field']}: {d['message']}" for d in details)
        raise ApiError(code, summary, details) from None
    return JsonResponse(job_shape(_job(account, job.job_id)))


def get(request, account, job_id):
    return JsonResponse(job_shape(_job(account, job_id)))


def cancel(request, account, job_id):
    job = _job(account, job_id)
    cancelled, message = cancel_job(job, by=request.user.get_username())
    if not cancelled:
        raise ApiError(
            "FAILED_PRECONDITION",
            f"DPO job {job_id}: {message} Only a waiting or running job can be "
            "cancelled.",
        )
    return JsonResponse(job_shape(_job(account, job_id)))


def delete(request, account, job_id):
    job = _job(account, job_id)
    if job.state not in states.FINAL:
        raise ApiError(
            "FAILED_PRECONDITION",
            f"DPO job {job_id} is {job.state}; cancel it first, or wait until it ends.",
        )
    keep_files = job.fine_tuned_model_id is not None
    folder = job.folder
    job.delete()
    # A fine-tuned model's adapter lives in the job's folder: it stays with the model.
    if not keep_files:
        shutil.rmtree(folder, ignore_errors=True)
    return JsonResponse({})


def metrics(request, account, job_id):
    """JSON pages by default; `?format=jsonl` streams every point, one per line."""
    job = _job(account, job_id)
    rows = JobMetric.objects.filter(job=job).order_by("step", "id")
    output = request.GET.get("format", "json")
    if output == "jsonl":
        lines = (json.dumps(metric_shape(m)) + "\n" for m in rows.iterator())
        response = StreamingHttpResponse(lines, content_type="application/jsonl")
        response["Content-Disposition"] = (
            f'attachment; filename="{job.job_id}-metrics.jsonl"'
        )
        return response
    if output != "json":
        raise ApiError(
            "INVALID_ARGUMENT", f"format is {output[:40]!r}; accepted: json, jsonl."
        )
    return page(request, rows, "metrics", metric_shape, max_size=5000, default=1000)


def events(request, account, job_id):
    job = _job(account, job_id)
    rows = job.events.order_by("created_at", "id")
    return page(request, rows, "events", event_shape, max_size=1000, default=200)
