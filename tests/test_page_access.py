"""The portal's pages with the cast: a teammate and a viewer of the owner's account
see its resources; only the owner and the teammate change them; an outsider gets 404."""

import pytest
from django.test import Client

from datasets_app.models import Dataset
from jobs_app import states
from jobs_app.models import DpoJob
from tests.api_world import base_model, finished_job, ready_dataset
from tests.live import *  # noqa: F403

pytestmark = pytest.mark.django_db

PAGES = [
    "/datasets/prefs/",
    "/datasets/prefs/status/",
    "/datasets/prefs/preview/",
    "/datasets/prefs/download/",
    "/jobs/job-one/",
    "/jobs/job-one/live/",
    "/jobs/job-one/log/",
    "/jobs/job-one/metrics.json",
    "/jobs/job-one/metrics.jsonl",
]


@pytest.fixture
def shared(cast):
    dataset = ready_dataset(cast.account)
    finished_job(dataset, base_model(), state=states.PENDING)
    Dataset.objects.create(account=cast.account, dataset_id="waiting")
    return cast


def browser(member, account="owner"):
    client = Client()
    client.force_login(member.user)
    client.post("/account/switch/", {"account": account})
    return client


@pytest.mark.parametrize("url", PAGES + ["/datasets/waiting/upload/"])
@pytest.mark.parametrize("who", ["owner", "teammate"])
def test_members_who_may_write_open_every_page(shared, who, url):
    assert browser(getattr(shared, who)).get(url).status_code == 200


@pytest.mark.parametrize("url", PAGES)
def test_a_viewer_opens_the_reading_pages(shared, url):
    assert browser(shared.viewer).get(url).status_code == 200


@pytest.mark.parametrize("url", PAGES + ["/datasets/waiting/upload/"])
def test_an_outsider_gets_404_for_every_page_of_another_account(shared, url):
    assert browser(shared.outsider, "outsider").get(url).status_code == 404


def test_a_viewer_cannot_open_the_upload_step(shared):
    assert browser(shared.viewer).get("/datasets/waiting/upload/").status_code == 403


def test_a_viewer_cannot_create_a_dataset(shared):
    response = browser(shared.viewer).post("/datasets/new/", {"dataset_id": "new"})

    assert response.status_code == 403
    assert not Dataset.objects.filter(dataset_id="new").exists()


def test_a_viewer_cannot_create_a_job(shared):
    response = browser(shared.viewer).post("/jobs/new/", {"dataset": "prefs"})

    assert response.status_code == 403
    assert DpoJob.objects.count() == 1


@pytest.mark.parametrize(
    "url", ["/datasets/prefs/delete/", "/jobs/job-one/retry/", "/jobs/job-one/cancel/"]
)
def test_an_outsider_changes_nothing_of_another_account(shared, url):
    assert browser(shared.outsider, "outsider").post(url).status_code == 404
    assert Dataset.objects.filter(dataset_id="prefs").exists()
    assert DpoJob.objects.get().state == states.PENDING


def test_a_viewer_cannot_delete_a_dataset(shared):
    response = browser(shared.viewer).post("/datasets/waiting/delete/")

    assert response.status_code == 403
    assert Dataset.objects.filter(dataset_id="waiting").exists()


def test_a_viewer_cannot_cancel_a_job(shared):
    response = browser(shared.viewer).post("/jobs/job-one/cancel/")

    assert response.status_code == 403
    assert DpoJob.objects.get().state == states.PENDING


def test_a_teammate_can_cancel_a_job(shared):
    browser(shared.teammate).post("/jobs/job-one/cancel/")

    assert DpoJob.objects.get().state == states.CANCELLED


def test_a_teammate_creates_datasets_in_the_account_they_switched_to(shared):
    browser(shared.teammate).post("/datasets/new/", {"dataset_id": "theirs"})

    assert Dataset.objects.get(dataset_id="theirs").account == shared.account
