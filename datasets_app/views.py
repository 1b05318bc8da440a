from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render

from datasets_app.forms import NewDatasetForm
from datasets_app.models import Dataset
from datasets_app.services import create_dataset, preview_examples
from dpo_portal.accounts import current_account, for_user, get_for_user, require_write


def _dataset(request, dataset_id, write=False):
    return get_for_user(
        Dataset.objects.select_related("account"),
        request.user,
        write=write,
        dataset_id=dataset_id,
    )


@login_required
def dataset_list(request):
    datasets = for_user(Dataset.objects, request.user).select_related("account")
    return render(request, "datasets/list.html", {"datasets": datasets})


@login_required
def dataset_new(request):
    form = NewDatasetForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        account = current_account(request)
        require_write(account, request.user)
        try:
            dataset = create_dataset(
                account,
                form.cleaned_data["dataset_id"],
                form.cleaned_data["display_name"],
                user=request.user,
            )
        except ValidationError as exc:
            form.add_error("dataset_id", exc)
        else:
            return redirect("dataset_upload", dataset.dataset_id)
    return render(request, "datasets/new.html", {"form": form, "step": 1})


@login_required
def dataset_upload(request, dataset_id):
    dataset = _dataset(request, dataset_id, write=True)
    if dataset.state != Dataset.STATE_UPLOADING:
        return redirect("dataset_detail", dataset.dataset_id)

    context = {
        "dataset": dataset,
        "step": 2,
        "max_bytes": settings.DPO_UPLOAD_MAX_BYTES,
    }
    return render(request, "datasets/upload.html", context)


@login_required
def dataset_detail(request, dataset_id):
    dataset = _dataset(request, dataset_id)
    return render(request, "datasets/detail.html", _detail_context(dataset))


@login_required
def dataset_status(request, dataset_id):
    """The live part of the detail page, polled by htmx while validation runs."""
    dataset = _dataset(request, dataset_id)
    return render(request, "datasets/_status.html", _detail_context(dataset))


def _detail_context(dataset):
    report = dataset.report or {}
    finished = dataset.state in (Dataset.STATE_READY, Dataset.STATE_INVALID)
    return {
        "dataset": dataset,
        "report": report,
        "step": 4 if finished else 3,
        "preview": preview_examples(dataset) if finished else [],
        "jobs": dataset.jobs.all()[:10],
    }
