"""Model pages: list, detail, deploy, playground, preference checks, downloads."""

import json
import tempfile

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import FileResponse, Http404, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from datasets_app.models import Dataset
from dpo_portal.accounts import current_account, for_user, require_write
from jobs_app.models import LanguageModel
from models_app import inference, services
from models_app.chat import ChatRequestError, read_messages, read_sampling
from models_app.export import adapter_files, write_adapter_zip
from models_app.models import Deployment, MergedExport, PreferenceCheck


def _visible_models(request, accounts=None):
    """Shared base models and those of the account the pages act for (or of all
    the user's `accounts`, for following a link)."""
    mine = (
        Q(account__in=accounts)
        if accounts is not None
        else Q(account=current_account(request))
    )
    return LanguageModel.objects.filter(Q(account__isnull=True) | mine).select_related(
        "account", "base"
    )


def _model(request, model_id, write=False):
    """The model by ID: the current account's first, else a shared base model.

    Returns (model, the account acting on it). Outsiders get 404.
    """
    accounts = request.user.accounts.all()
    found = list(_visible_models(request, accounts).filter(model_id=model_id))
    if not found:
        raise Http404("No model found.")
    current = current_account(request)
    # The current account's model first, then another of the user's, then shared.
    found.sort(key=lambda m: (m.account_id != current.pk, m.account_id is None))
    model = found[0]
    account = model.account or current_account(request)
    if write:
        require_write(account, request.user)
    return model, account


@login_required
def model_list(request):
    account = current_account(request)
    models = list(_visible_models(request))
    active = {
        d.model_id: d
        for d in Deployment.objects.filter(account=account, state__in=Deployment.ACTIVE)
    }
    rows = [(model, active.get(model.pk)) for model in models]
    return render(request, "models/list.html", {"rows": rows, "account": account})


@login_required
def model_detail(request, model_id):
    model, account = _model(request, model_id)
    context = {
        "model": model,
        "account": account,
        "job": getattr(model, "made_by_job", None),
        **_deployment_context(model, account),
    }
    if model.kind == LanguageModel.KIND_FINE_TUNED:
        files = adapter_files(model.path)
        context.update(
            files=files,
            adapter_bytes=sum(size for _, size in files),
            datasets=for_user(Dataset.objects, request.user).filter(
                account=account, state=Dataset.STATE_READY
            ),
            **_tasks_context(model),
        )
    return render(request, "models/detail.html", context)


def _deployment_context(model, account):
    deployment = services.active_deployment(account, model)
    if deployment and not inference.is_serving(deployment.base):
        # The serving process is gone (worker restarted, Redis flushed) or not
        # started yet: make sure one is queued; it picks up every active
        # deployment on the base.
        services.start_serving(deployment.base)
    last = (
        deployment
        or Deployment.objects.filter(account=account, model=model)
        .order_by("-created_at")
        .first()
    )
    status = inference.server_status(last.base) if last else None
    return {"deployment": deployment, "last_deployment": last, "server": status}


def _tasks_context(model):
    checks = PreferenceCheck.objects.filter(model=model).select_related("dataset")
    exports = MergedExport.objects.filter(model=model)
    return {
        "checks": checks[:10],
        "exports": exports[:5],
        "tasks_active": any(t.is_active for t in [*checks[:10], *exports[:5]]),
    }


@login_required
def deployment_status(request, model_id):
    """The deployment card, polled by htmx while the model is deploying."""
    model, account = _model(request, model_id)
    context = {"model": model, **_deployment_context(model, account)}
    return render(request, "models/_deployment.html", context)


@login_required
def model_tasks(request, model_id):
    """Preference checks and merged downloads, polled while one is running."""
    model, _ = _model(request, model_id)
    context = {"model": model, **_tasks_context(model)}
    return render(request, "models/_tasks.html", context)


@login_required
@require_POST
def model_deploy(request, model_id):
    model, account = _model(request, model_id, write=True)
    try:
        services.deploy(account, model, user=request.user)
    except ValidationError as exc:
        messages.warning(request, exc.messages[0])
    else:
        messages.info(request, f"Deploying {model.name} on an inference worker.")
    return redirect("models:detail", model.model_id)


@login_required
@require_POST
def model_undeploy(request, model_id):
    model, account = _model(request, model_id, write=True)
    deployment = services.active_deployment(account, model)
    if deployment and services.undeploy(deployment):
        messages.info(request, f"{model.name} is undeployed; its memory is freed.")
    else:
        messages.warning(request, f"{model.name} is not deployed.")
    return redirect("models:detail", model.model_id)


@login_required
def playground(request, model_id):
    model, account = _model(request, model_id)
    deployment = services.active_deployment(account, model)
    context = {"model": model, "deployment": deployment}
    return render(request, "models/playground.html", context)


@login_required
@require_POST
def playground_chat(request, model_id):
    """One answer for the playground, as server-sent events of reply events.

    `side` is `tuned` (the deployed model) or `base` (its base, adapter off).
    """
    model, account = _model(request, model_id)
    deployment = services.active_deployment(account, model)
    if deployment is None or deployment.state != Deployment.READY:
        return JsonResponse(
            {"error": f"{model.name} is not deployed and READY."}, status=409
        )

    try:
        body = json.loads(request.body)
        chat_messages = read_messages(body.get("messages"))
        sampling = read_sampling(body)
    except (ValueError, AttributeError):
        return JsonResponse({"error": "The body must be a JSON object."}, status=400)
    except ChatRequestError as exc:
        return JsonResponse({"error": str(exc), "param": exc.param}, status=400)

    adapter = None
    if body.get("side") != "base" and model.base_id:
        adapter = inference.adapter_name(model)
    try:
        events = inference.chat(deployment.base, adapter, chat_messages, sampling)
    except inference.NotServing as exc:
        return JsonResponse({"error": str(exc)}, status=503)
    response = StreamingHttpResponse(_sse(events), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    return response


def _sse(events):
    try:
        for event in events:
            yield f"data: {json.dumps(event)}\n\n"
    except inference.ReplyTimeout as exc:
        yield f"data: {json.dumps({'type': 'error', 'message': str(exc)})}\n\n"


@login_required
@require_POST
def preference_check_new(request, model_id):
    model, account = _model(request, model_id, write=True)
    dataset = Dataset.objects.filter(
        account=account, dataset_id=request.POST.get("dataset", "")
    ).first()
    if dataset is None:
        messages.warning(request, "Choose one of this account's READY datasets.")
        return redirect("models:detail", model.model_id)

    try:
        max_examples = int(request.POST.get("max_examples") or 1000)
        services.start_preference_check(
            account, model, dataset, user=request.user, max_examples=max_examples
        )
    except ValueError:
        messages.warning(request, "max_examples must be a whole number.")
    except ValidationError as exc:
        messages.warning(request, " ".join(exc.messages))
    else:
        messages.info(request, f"Checking preferences on {dataset.dataset_id}.")
    return redirect("models:detail", model.model_id)


@login_required
def download_adapter(request, model_id):
    model, _ = _model(request, model_id)
    if model.kind != LanguageModel.KIND_FINE_TUNED:
        raise Http404("Only a fine-tuned model has an adapter.")

    # Built per request: an adapter is megabytes, and its folder never changes.
    archive = tempfile.TemporaryFile()
    write_adapter_zip(model.path, archive, f"{model.model_id}-adapter")
    archive.seek(0)
    return FileResponse(
        archive, as_attachment=True, filename=f"{model.model_id}-adapter.zip"
    )


@login_required
@require_POST
def merge_new(request, model_id):
    model, account = _model(request, model_id, write=True)
    try:
        services.start_merge(account, model, user=request.user)
    except ValidationError as exc:
        messages.warning(request, exc.messages[0])
    else:
        messages.info(request, "Merging the adapter into full weights in a worker.")
    return redirect("models:detail", model.model_id)


@login_required
def download_merged(request, model_id, export_pk):
    model, _ = _model(request, model_id)
    export = MergedExport.objects.filter(
        pk=export_pk, model=model, state=MergedExport.COMPLETED
    ).first()
    if export is None or not export.zip_path.is_file():
        raise Http404("No merged weights ready for download.")
    return FileResponse(
        open(export.zip_path, "rb"),
        as_attachment=True,
        filename=f"{model.model_id}-merged.zip",
    )
