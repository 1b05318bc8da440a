"""Pages: sign-in required, and another user's resources are 404."""

import json

import pytest

from datasets_app.models import Dataset
from jobs_app.models import DpoJob, LanguageModel
from tests.helpers import example, new_dataset

pytestmark = pytest.mark.django_db


@pytest.fixture
def ready_dataset(owner):
    dataset = new_dataset(owner)
    Dataset.objects.filter(pk=dataset.pk).update(
        state=Dataset.STATE_READY, example_count=6
    )
    dataset.refresh_from_db()
    return dataset


@pytest.fixture
def base_model():
    return LanguageModel.objects.create(
        model_id="tiny-base",
        kind=LanguageModel.KIND_BASE,
        path="/nowhere",
        context_length=2048,
    )


@pytest.fixture
def job(owner, ready_dataset, base_model):
    return DpoJob.objects.create(
        account=ready_dataset.account,
        job_id="job-one",
        dataset=ready_dataset,
        base_model=base_model,
        output_model_id="tuned-one",
        params={},
    )


@pytest.mark.parametrize(
    "url", ["/", "/datasets/", "/datasets/new/", "/jobs/", "/jobs/new/", "/models/"]
)
def test_every_page_sends_a_stranger_to_sign_in(client, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


@pytest.mark.parametrize(
    "url",
    [
        "/datasets/prefs/",
        "/datasets/prefs/status/",
        "/datasets/prefs/upload/",
        "/jobs/job-one/",
        "/jobs/job-one/live/",
        "/jobs/job-one/metrics.json",
    ],
)
def test_an_outsider_gets_404_for_another_users_resources(outsider_client, job, url):
    assert outsider_client.get(url).status_code == 404


def test_an_outsider_cannot_cancel_another_users_job(outsider_client, job):
    response = outsider_client.post("/jobs/job-one/cancel/")

    assert response.status_code == 404
    job.refresh_from_db()
    assert job.state == "JOB_STATE_PENDING"


def test_the_owner_sees_the_dataset_and_the_job(owner_client, job):
    assert owner_client.get("/datasets/prefs/").status_code == 200
    page = owner_client.get("/jobs/job-one/")
    assert page.status_code == 200
    assert b"JOB_STATE_PENDING" in page.content


def test_the_wizard_refuses_a_bad_id_quoting_it_and_the_rule(owner_client):
    response = owner_client.post("/datasets/new/", {"dataset_id": "9-Bad_ID"})

    assert response.status_code == 200
    assert b"&#x27;9-Bad_ID&#x27; is not valid" in response.content
    assert b"starting with a letter" in response.content
    assert not Dataset.objects.exists()


def test_the_wizard_creates_the_dataset_and_goes_to_the_upload_step(owner_client):
    response = owner_client.post("/datasets/new/", {"dataset_id": "support-prefs"})

    assert response.status_code == 302
    assert response["Location"] == "/datasets/support-prefs/upload/"
    assert Dataset.objects.get().state == Dataset.STATE_UPLOADING


def test_the_wizard_refuses_an_id_already_used(owner_client, owner):
    new_dataset(owner, "taken")

    response = owner_client.post("/datasets/new/", {"dataset_id": "taken"})

    assert b"already used" in response.content
    assert Dataset.objects.count() == 1


def test_the_job_form_names_the_field_of_a_bad_beta(
    owner_client, ready_dataset, base_model
):
    form = {
        "dataset": "prefs",
        "base_model": "tiny-base",
        "output_model_id": "tuned",
        "epochs": 1,
        "learning_rate": 5e-5,
        "beta": 0,
        "batch_size": 2,
        "max_context_length": 256,
        "lora_rank": 4,
        "loss_type": "sigmoid",
        "gradient_accumulation_steps": 1,
        "lora_alpha": 8,
        "lora_dropout": 0.0,
        "lora_target_modules": "all-linear",
        "warmup_ratio": 0.0,
        "lr_scheduler": "linear",
        "weight_decay": 0.0,
        "max_grad_norm": 1.0,
        "seed": 1,
    }

    response = owner_client.post("/jobs/new/", form)

    assert response.status_code == 200
    assert b"beta is 0.0; it must be greater than 0" in response.content
    assert not DpoJob.objects.exists()


def test_the_job_form_refuses_a_context_longer_than_the_models(
    owner_client, ready_dataset, base_model
):
    response = owner_client.post(
        "/jobs/new/",
        {
            "dataset": "prefs",
            "base_model": "tiny-base",
            "output_model_id": "tuned",
            "epochs": 1,
            "learning_rate": 5e-5,
            "beta": 0.1,
            "batch_size": 2,
            "max_context_length": 4096,
            "lora_rank": 4,
            "loss_type": "sigmoid",
            "gradient_accumulation_steps": 1,
            "lora_alpha": 8,
            "lora_dropout": 0.0,
            "lora_target_modules": "all-linear",
            "warmup_ratio": 0.0,
            "lr_scheduler": "linear",
            "weight_decay": 0.0,
            "max_grad_norm": 1.0,
            "seed": 1,
        },
    )

    assert b"the base model takes at most 2048 tokens" in response.content
    assert not DpoJob.objects.exists()


def test_dataset_content_is_escaped_on_the_page(owner_client, owner, tmp_path):
    dataset = new_dataset(owner)
    dataset.folder.mkdir(parents=True, exist_ok=True)
    hostile = example("<script>alert(1)</script>", "<b>yes</b>", "no")
    dataset.file_path.write_text(json.dumps(hostile) + "\n")
    Dataset.objects.filter(pk=dataset.pk).update(state=Dataset.STATE_READY, report={})

    page = owner_client.get("/datasets/prefs/").content

    assert b"<script>alert(1)</script>" not in page
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert b"&lt;b&gt;yes&lt;/b&gt;" in page
