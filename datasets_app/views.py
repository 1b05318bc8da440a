import math

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from datasets_app import preview
from datasets_app.forms import NewDatasetForm
from datasets_app.models import Dataset
from datasets_app.services import DatasetInUse, create_dataset, delete_dataset
from datasets_app.token_tables import token_tables
from dpo_portal.accounts import (
    current_account,
    get_for_user,
    in_current_account,
    require_write,
)


def _dataset(request, dataset_id, write=False):
    return get_for_user(
        Dataset.objects.select_related("account"),
        request.user,
        write=write,
        prefer=current_account(request),
        dataset_id=dataset_id,
    )


@login_required
def dataset_list(request):
    datasets = in_current_account(Dataset.objects, request).select_related("account")
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
        # Tests send smaller chunks to see several of them with a small file.
        "chunk_bytes": _whole_number(request.GET.get("chunk_bytes"), None),
    }
    return render(request, "datasets/upload.html", context)


@login_required
def dataset_detail(request, dataset_id):
    dataset = _dataset(request, dataset_id)
    context = _detail_context(dataset)
    context["preview"] = _preview_context(request, dataset)
    return render(request, "datasets/detail.html", context)


@login_required
def dataset_status(request, dataset_id):
    """The live part of the detail page, polled by htmx while validation runs."""
    dataset = _dataset(request, dataset_id)
    response = render(request, "datasets/_status.html", _detail_context(dataset))
    if dataset.state != Dataset.STATE_VALIDATING and request.htmx:
        # Validation ended: load the whole page, which adds the preview.
        response["HX-Refresh"] = "true"
    return response


@login_required
def dataset_preview(request, dataset_id):
    """One page of the file's lines, for paging without reloading the page."""
    dataset = _dataset(request, dataset_id)
    context = {"dataset": dataset, "preview": _preview_context(request, dataset)}
    return render(request, "datasets/_preview.html", context)


@login_required
def dataset_download(request, dataset_id):
    dataset = _dataset(request, dataset_id)
    if not dataset.file_path.exists():
        raise Http404("This dataset has no file yet.")
    return FileResponse(
        open(dataset.file_path, "rb"),
        as_attachment=True,
        filename=dataset.file_name or f"{dataset.dataset_id}.jsonl",
        content_type="application/jsonl",
    )


@login_required
@require_POST
def dataset_delete(request, dataset_id):
    dataset = _dataset(request, dataset_id, write=True)
    try:
        delete_dataset(dataset)
    except DatasetInUse as in_use:
        messages.error(request, str(in_use))
        return redirect("dataset_detail", dataset.dataset_id)

    messages.success(request, f"Dataset {dataset_id} and its file were deleted.")
    return redirect("dataset_list")


def _detail_context(dataset):
    report = dataset.report or {}
    finished = dataset.state in (Dataset.STATE_READY, Dataset.STATE_INVALID)
    return {
        "dataset": dataset,
        "report": report,
        "error_groups": _issue_groups(report.get("errors", []), report, "errors"),
        "warning_groups": _issue_groups(report.get("warnings", []), report, "warnings"),
        "step": 4 if finished else 3,
        "jobs": dataset.jobs.all()[:10],
        "token_tables": token_tables(dataset),
    }


def _issue_groups(issues, report, kind):
    """The listed issues grouped by kind, with each kind's total."""
    totals = report.get(f"{kind}_by_code", {})
    groups = {}
    for issue in issues:
        group = groups.setdefault(
            issue["code"],
            {"code": issue["code"], "total": totals.get(issue["code"], 0), "items": []},
        )
        if issue["line"] is not None:
            issue = {**issue, "page": preview.page_of(issue["line"])}
        group["items"].append(issue)
    return sorted(groups.values(), key=lambda group: -group["total"])


def _preview_context(request, dataset):
    finished = dataset.state in (Dataset.STATE_READY, Dataset.STATE_INVALID)
    if not finished or not dataset.file_path.exists():
        return None

    line_count = (dataset.report or {}).get("line_count", 0)
    pages = max(math.ceil(line_count / preview.PAGE_LINES), 1)
    page = _whole_number(request.GET.get("page"), 1)
    if "line" in request.GET:
        page = preview.page_of(_whole_number(request.GET["line"], 1))
    page = min(page, pages)
    first = (page - 1) * preview.PAGE_LINES + 1
    return {
        "lines": preview.read_lines(dataset, first, preview.PAGE_LINES),
        "page": page,
        "pages": pages,
        "first": first,
        "marked": _whole_number(request.GET.get("line"), None),
    }


def _whole_number(raw, default):
    try:
        return max(int(raw), 1)
    except (TypeError, ValueError):
        return default
