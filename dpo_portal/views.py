from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from datasets_app.models import Dataset
from dpo_portal.accounts import current_account, in_current_account
from dpo_portal.queues import workers_online
from jobs_app.models import DpoJob


@login_required
def dashboard(request):
    account = current_account(request)
    datasets = in_current_account(Dataset.objects, request).select_related("account")
    jobs = in_current_account(DpoJob.objects, request).select_related("dataset")
    context = {
        "account": account,
        "datasets": datasets[:5],
        "jobs": jobs[:5],
        "workers": workers_online(),
    }
    return render(request, "dashboard.html", context)
