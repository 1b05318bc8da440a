"""The job pages' actions: presets, clone, retry, refusals, metrics export, access."""

import json

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from dpo_portal.models import Membership
from jobs_app import states
from jobs_app.models import DpoJob, JobMetric
from jobs_app.params import PRESETS, DpoParams
from jobs_app.services import create_job
from tests.conftest import make_user
from tests.jobs_support import QUICK, owner_account, ready_dataset, tiny_base

pytestmark = pytest.mark.django_db


@pytest.fixture
def base(tiny_model_dir):
    return tiny_base(tiny_model_dir)


@pytest.fixture
def job(owner, base, redis_queues):
    dataset = ready_dataset(owner)
    return create_job(
        owner_account(owner),
        dataset,
        base,
        "tuned-one",
        DpoParams(**{**QUICK.to_dict(), "beta": 0.25, "lora_rank": 16}),
        user=owner,
        job_id="job-one",
    )


def field_value(page, name):
    """The value="..." of the input named `name` on the page."""
    start = page.index(f'name="{name}"')
    tag = page[page.rindex("<", 0, start) : page.index(">", start)]
    return tag.split('value="')[1].split('"')[0]


def test_the_form_offers_the_presets_and_fills_one_in(owner_client, base):
    page = owner_client.get("/jobs/new/?preset=thorough").content.decode()

    for preset in PRESETS.values():
        assert preset["label"] in page
    assert field_value(page, "epochs") == "3"
    assert field_value(page, "lora_rank") == "16"
    assert field_value(page, "eval_fraction") == "0.1"


def test_cloning_a_job_prefills_the_form_with_its_options(owner_client, job):
    page = owner_client.get("/jobs/new/?clone=job-one").content.decode()

    assert field_value(page, "beta") == "0.25"
    assert field_value(page, "lora_rank") == "16"
    assert '<option value="prefs" selected>' in page
    assert "Cloned from job" in page


def test_an_outsider_cannot_clone_another_users_job(outsider_client, job):
    assert outsider_client.get("/jobs/new/?clone=job-one").status_code == 404


def test_retrying_a_failed_job_queues_it_again(
    owner_client, job, redis_queues, django_capture_on_commit_callbacks
):
    DpoJob.objects.filter(pk=job.pk).update(
        state=states.FAILED, failure_reason="ValueError: boom", attempts=1
    )

    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post("/jobs/job-one/retry/")

    job.refresh_from_db()
    assert job.state == states.PENDING
    assert job.failure_reason == ""
    assert job.attempts == 0
    assert redis_queues.llen("rq:queue:training") == 1
    assert job.rq_job_id.startswith(f"dpo-job-{job.pk}")
    assert job.events.last().message.startswith("Retried by owner")


def test_a_job_that_has_not_failed_cannot_be_retried(owner_client, job):
    owner_client.post("/jobs/job-one/retry/")

    job.refresh_from_db()
    assert job.state == states.PENDING
    assert not job.events.filter(message__startswith="Retried").exists()


def test_a_viewer_may_read_a_job_but_not_retry_it(django_user_model, job):
    viewer = make_user(django_user_model, "viewer")
    Membership.objects.create(
        account=job.account, user=viewer, role=Membership.ROLE_VIEWER
    )
    DpoJob.objects.filter(pk=job.pk).update(state=states.FAILED)
    client = Client()
    client.force_login(viewer)

    assert client.get("/jobs/job-one/").status_code == 200
    assert client.post("/jobs/job-one/retry/").status_code == 403
    assert DpoJob.objects.get(pk=job.pk).state == states.FAILED


@pytest.mark.parametrize("url", ["/jobs/job-one/log/", "/jobs/job-one/metrics.jsonl"])
def test_an_outsider_gets_404_for_a_jobs_log_and_metrics(outsider_client, job, url):
    assert outsider_client.get(url).status_code == 404


def test_the_metrics_download_has_one_json_object_per_logged_step(owner_client, job):
    for step in [1, 2, 3]:
        JobMetric.objects.create(
            job=job, step=step, epoch=step / 4, values={"loss": 1 / step}
        )
    JobMetric.objects.create(job=job, step=2, values={"eval_loss": 0.9})

    response = owner_client.get("/jobs/job-one/metrics.jsonl")

    assert response["Content-Disposition"].endswith('job-one-metrics.jsonl"')
    lines = b"".join(response.streaming_content).decode().splitlines()
    rows = [json.loads(line) for line in lines]
    assert [row["step"] for row in rows] == [1, 2, 2, 3]
    assert rows[2] == {"step": 2, "epoch": 0.0, "eval_loss": 0.9}


@pytest.mark.parametrize(
    "change, field",
    [
        ({"beta": 0.0}, "beta"),
        ({"lora_rank": 0}, "lora_rank"),
        ({"max_context_length": 4096}, "max_context_length"),
        ({"eval_fraction": 0.9}, "eval_fraction"),
        ({"checkpoints_kept": 0}, "checkpoints_kept"),
        ({"eval_steps": 10}, "eval_steps"),
    ],
)
def test_creating_a_job_with_a_bad_option_is_refused_naming_the_field(
    owner, base, change, field
):
    dataset = ready_dataset(owner)
    params = DpoParams(**{**QUICK.to_dict(), **change})

    with pytest.raises(ValidationError) as refused:
        create_job(owner_account(owner), dataset, base, "tuned", params)

    assert list(refused.value.message_dict) == [field]
    assert field in refused.value.message_dict[field][0]
    assert not DpoJob.objects.exists()


def test_eval_steps_are_accepted_with_an_evaluation_dataset(owner, base, redis_queues):
    dataset = ready_dataset(owner)
    held_out = ready_dataset(owner, "held-out")
    params = DpoParams(**{**QUICK.to_dict(), "eval_steps": 10})

    job = create_job(
        owner_account(owner), dataset, base, "tuned", params, eval_dataset=held_out
    )

    assert job.eval_dataset == held_out


def test_a_job_on_a_queue_that_is_not_configured_is_refused(owner, base):
    dataset = ready_dataset(owner)

    with pytest.raises(ValidationError) as refused:
        create_job(owner_account(owner), dataset, base, "t", QUICK, queue="gpu-x")

    assert "gpu-x" in refused.value.message_dict["queue"][0]


def test_the_job_page_shows_the_events_as_a_timeline_oldest_first(owner_client, job):
    job.events.create(message="Second thing.")
    job.events.create(message="Third thing.", level="WARNING")

    page = owner_client.get("/jobs/job-one/").content.decode()

    created = page.index("Job created by")
    assert created < page.index("Second thing.") < page.index("Third thing.")
    assert 'class="level-warning"' in page


def test_the_system_check_refuses_a_training_queue_with_rqs_timeout(settings):
    from jobs_app.checks import training_queues_configured

    settings.RQ_QUEUES = {
        **settings.RQ_QUEUES,
        "training": {"URL": settings.REDIS_URL, "DEFAULT_TIMEOUT": 180},
    }
    settings.DPO_TRAINING_QUEUES = ["training", "training-h100"]

    errors = training_queues_configured(None)

    assert [error.id for error in errors] == ["jobs_app.E002", "jobs_app.E001"]
    assert "180" in errors[0].msg


def test_an_empty_output_model_id_takes_the_first_free_name_from_the_dataset(
    owner_client, owner, job
):
    form = {"dataset": "prefs", "base_model": "tiny-base", "output_model_id": ""}

    for expected in ("prefs-dpo", "prefs-dpo-2"):
        response = owner_client.post("/jobs/new/", form)

        assert response.status_code == 302, response.content.decode()[:2000]
        created = DpoJob.objects.exclude(job_id="job-one").latest("created_at")
        assert created.output_model_id == expected
