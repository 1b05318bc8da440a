from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from dpo_portal.accounts import current_account, for_user, get_for_user, require_write
from jobs_app import states
from jobs_app.forms import NewJobForm
from jobs_app.models import DpoJob, JobMetric, LanguageModel
from jobs_app.services import create_job

CHARTED = [
    "loss",
    "rewards/margins",
    "rewards/accuracies",
    "rewards/chosen",
    "rewards/rejected",
]


def _job(request, job_id, write=False):
    return get_for_user(
        DpoJob.objects.select_related(
            "account", "dataset", "base_model", "fine_tuned_model"
        ),
        request.user,
        write=write,
        job_id=job_id,
    )


@login_required
def job_list(request):
    jobs = for_user(DpoJob.objects, request.user).select_related("account", "dataset")
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
    initial = {"dataset": request.GET.get("dataset")}
    form = NewJobForm(request.POST or None, account=account, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            job = create_job(
                account,
                form.cleaned_data["dataset"],
                form.cleaned_data["base_model"],
                form.cleaned_data["output_model_id"],
                form.params(),
                user=request.user,
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            return redirect("job_detail", job.job_id)
    return render(request, "jobs/new.html", {"form": form})


@login_required
def job_detail(request, job_id):
    job = _job(request, job_id)
    return render(request, "jobs/detail.html", _live_context(job))


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
@require_POST
def job_cancel(request, job_id):
    job = _job(request, job_id, write=True)
    if states.move(
        job, {states.PENDING}, states.CANCELLED, "Cancelled before it started."
    ):
        messages.info(request, "The job was cancelled before it started.")
    elif states.move(
        job,
        {states.RUNNING},
        states.CANCELLING,
        "Cancel asked; stopping after this step.",
    ):
        messages.info(
            request, "Cancelling: training stops at the end of the current step."
        )
    else:
        messages.warning(
            request, f"The job is {states.short(job.state)}; nothing to cancel."
        )
    return redirect("job_detail", job.job_id)


@login_required
def model_list(request):
    user_models = LanguageModel.objects.filter(
        Q(account__isnull=True) | Q(account__members=request.user)
    ).distinct()
    return render(
        request, "jobs/models.html", {"models": user_models.select_related("base")}
    )


def _live_context(job):
    elapsed = None
    if job.started_at:
        elapsed = int(
            ((job.finished_at or timezone.now()) - job.started_at).total_seconds()
        )
    latest = {k: v for k, v in job.latest_metrics.items()}
    return {
        "job": job,
        "state": states.short(job.state),
        "elapsed": elapsed,
        "latest": sorted(latest.items()),
        "events": job.events.all().order_by("-created_at")[:20],
        "charted": CHARTED,
    }
