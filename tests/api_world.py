"""Rows the API tests act on, made directly in the database."""

import json

from datasets_app.models import Dataset
from jobs_app import states
from jobs_app.models import DpoJob, JobMetric, LanguageModel
from tests.helpers import example


def base_model(path="/nowhere", model_id="tiny-base"):
    return LanguageModel.objects.create(
        model_id=model_id,
        kind=LanguageModel.KIND_BASE,
        path=str(path),
        context_length=2048,
    )


def ready_dataset(account, dataset_id="prefs", rows=None):
    dataset = Dataset.objects.create(account=account, dataset_id=dataset_id)
    dataset.folder.mkdir(parents=True, exist_ok=True)
    rows = rows or [example() for _ in range(3)]
    dataset.file_path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = {"valid": True, "example_count": len(rows), "errors": [], "warnings": []}
    Dataset.objects.filter(pk=dataset.pk).update(
        state=Dataset.STATE_READY, example_count=len(rows), report=report
    )
    dataset.refresh_from_db()
    return dataset


def finished_job(dataset, base, job_id="job-one", state=states.COMPLETED):
    job = DpoJob.objects.create(
        account=dataset.account,
        job_id=job_id,
        dataset=dataset,
        base_model=base,
        output_model_id=f"tuned-{job_id}",
        params={"beta": 0.2},
        state=state,
        step=4,
        total_steps=4,
        latest_metrics={"loss": 0.5},
    )
    for step in range(1, 5):
        JobMetric.objects.create(job=job, step=step, values={"loss": 1.0 / step})
    job.events.create(message="Job created; queued.")
    if state == states.COMPLETED:
        job.folder.mkdir(parents=True, exist_ok=True)
        model = LanguageModel.objects.create(
            account=dataset.account,
            model_id=f"tuned-{job_id}",
            kind=LanguageModel.KIND_FINE_TUNED,
            path=str(job.adapter_path),
            base=base,
        )
        DpoJob.objects.filter(pk=job.pk).update(fine_tuned_model=model)
    job.refresh_from_db()
    return job


def world(account):
    """A READY dataset `prefs`, a COMPLETED job `job-one` and its model."""
    dataset = ready_dataset(account)
    job = finished_job(dataset, base_model())
    return dataset, job
