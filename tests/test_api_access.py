"""Every API endpoint with the same cast over real HTTP: the owner and a teammate
may read and change, a viewer may read only, an outsider gets 404 for everything."""

import pytest

from datasets_app.models import Dataset
from jobs_app import states
from jobs_app.models import DpoJob
from tests.api_world import world
from tests.live import *  # noqa: F403

pytestmark = pytest.mark.django_db(transaction=True)

READS = [
    "/datasets",
    "/datasets/prefs",
    "/datasets/prefs:validationReport",
    "/dpoJobs",
    "/dpoJobs/job-one",
    "/dpoJobs/job-one/metrics",
    "/dpoJobs/job-one/metrics?format=jsonl",
    "/dpoJobs/job-one/events",
    "/models",
    "/models/tuned-job-one",
]
WRITES = [
    ("POST", "/datasets", {"json": {"datasetId": "another"}}),
    ("DELETE", "/datasets/prefs", {}),
    ("POST", "/datasets/waiting:upload", {"files": {"file": ("f", b"{}\n")}}),
    ("POST", "/datasets/waiting:getUploadEndpoint", {}),
    ("POST", "/dpoJobs", {"json": {"dataset": "prefs"}}),
    ("POST", "/dpoJobs/job-one:cancel", {}),
    ("DELETE", "/dpoJobs/job-one", {}),
    ("DELETE", "/models/tuned-job-one", {}),
]


@pytest.fixture
def shared(cast):
    dataset, job = world(cast.account)
    Dataset.objects.create(account=cast.account, dataset_id="waiting")
    return cast


@pytest.mark.parametrize("path", READS)
@pytest.mark.parametrize("who", ["owner", "teammate", "viewer"])
def test_members_of_every_role_can_read(live_portal, shared, who, path):
    response = getattr(shared, who).call("GET", path)

    assert response.status_code == 200, response.text


@pytest.mark.parametrize("path", READS)
def test_an_outsider_reads_nothing_of_another_account(live_portal, shared, path):
    response = shared.outsider.call("GET", path)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"
    assert "prefs" not in response.text.replace("'prefs'", "")


@pytest.mark.parametrize("method, path, extra", WRITES)
def test_an_outsider_changes_nothing_of_another_account(
    live_portal, shared, method, path, extra
):
    response = shared.outsider.call(method, path, **extra)

    assert response.status_code == 404
    assert Dataset.objects.filter(account=shared.account).count() == 2
    assert DpoJob.objects.get().state == states.COMPLETED


@pytest.mark.parametrize("method, path, extra", WRITES)
def test_a_viewer_changes_nothing(live_portal, shared, method, path, extra):
    response = shared.viewer.call(method, path, **extra)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "PERMISSION_DENIED"
    assert Dataset.objects.filter(account=shared.account).count() == 2
    assert DpoJob.objects.exists()


def test_a_teammate_can_create_a_dataset_in_the_shared_account(live_portal, shared):
    response = shared.teammate.call("POST", "/datasets", json={"datasetId": "mine"})

    assert response.status_code == 200
    assert Dataset.objects.get(dataset_id="mine").created_by == shared.teammate.user


def test_a_teammate_can_delete_a_finished_job(live_portal, shared):
    response = shared.teammate.call("DELETE", "/dpoJobs/job-one")

    assert response.status_code == 200
    assert not DpoJob.objects.exists()


def test_an_outsider_cannot_use_a_tus_upload_of_another_account(live_portal, shared):
    endpoint = shared.owner.call("POST", "/datasets/waiting:getUploadEndpoint").json()
    created = shared.owner.call(
        "POST",
        "/uploads/",
        headers={
            "Tus-Resumable": "1.0.0",
            "Upload-Length": "10",
            "Upload-Metadata": "dataset d2FpdGluZw==",
        },
    )
    location = created.headers["Location"].removeprefix(shared.owner.base_url)

    head = shared.outsider.call("HEAD", location, headers={"Tus-Resumable": "1.0.0"})
    patch = shared.outsider.call(
        "PATCH",
        location,
        data=b"0123456789",
        headers={
            "Tus-Resumable": "1.0.0",
            "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream",
        },
    )

    assert endpoint["metadata"]["dataset"] == "waiting"
    assert created.status_code == 201
    assert head.status_code == 404
    assert patch.status_code == 404


def test_an_outsider_cannot_start_a_tus_upload_into_another_account(
    live_portal, shared
):
    response = shared.outsider.call(
        "POST",
        "/uploads/",
        headers={
            "Tus-Resumable": "1.0.0",
            "Upload-Length": "10",
            "Upload-Metadata": "dataset d2FpdGluZw==",
        },
    )

    assert response.status_code == 404
