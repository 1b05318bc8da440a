from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from datasets_app.models import Dataset
from dpo_portal.accounts import current_account, for_user
from dpo_portal.queues import workers_online
from jobs_app.models import DpoJob


@login_required
def dashboard(request):
    account = current_account(request)
    datasets = for_user(Dataset.objects, request.user).select_related("account")
    jobs = for_user(DpoJob.objects, request.user).select_related("account", "dataset")
    context = {
        "account": account,
        "datasets": datasets[:5],
        "jobs": jobs[:5],
        "workers": workers_online(),
    }
    return render(request, "dashboard.html", context)
