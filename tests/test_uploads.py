"""The resumable (tus) upload endpoint, driven chunk by chunk."""

import hashlib
import io
import json
import os
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client, RequestFactory, override_settings
from django.utils import timezone
from django.utils.http import parse_http_date

from datasets_app import uploads
from datasets_app.models import Dataset, Upload
from dpo_portal.accounts import personal_account
from dpo_portal.models import Membership
from tests.helpers import (
    jsonl_bytes,
    new_dataset,
    tus_checksum,
    tus_create,
    tus_metadata,
    tus_patch,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_takes_a_file_in_chunks_with_one_chunk_sent_twice(
    owner_client, owner, redis_queues
):
    dataset = new_dataset(owner)
    body = jsonl_bytes(12)
    cuts = [0, len(body) // 3, 2 * len(body) // 3, len(body)]

    created = tus_create(owner_client, "prefs", len(body))
    assert created.status_code == 201
    location = created["Location"]

    first = tus_patch(owner_client, location, 0, body[cuts[0] : cuts[1]])
    assert first.status_code == 204
    assert int(first["Upload-Offset"]) == cuts[1]

    second = tus_patch(owner_client, location, cuts[1], body[cuts[1] : cuts[2]])
    assert second.status_code == 204

    # The client lost the answer to the second chunk and sends it again.
    resent = tus_patch(owner_client, location, cuts[1], body[cuts[1] : cuts[2]])
    assert resent.status_code == 409
    assert int(resent["Upload-Offset"]) == cuts[2]

    head = owner_client.head(location, headers={"Tus-Resumable": "1.0.0"})
    assert int(head["Upload-Offset"]) == cuts[2]

    last = tus_patch(owner_client, location, cuts[2], body[cuts[2] :])
    assert last.status_code == 204

    dataset.refresh_from_db()
    assert dataset.state == Dataset.STATE_VALIDATING
    assert dataset.file_path.read_bytes() == body
    assert dataset.size_bytes == len(body)
    assert redis_queues.llen("rq:queue:default") == 1


def test_it_refuses_a_patch_at_the_wrong_offset_and_keeps_the_bytes(
    owner_client, owner
):
    new_dataset(owner)
    body = jsonl_bytes(6)
    location = tus_create(owner_client, "prefs", len(body))["Location"]
    tus_patch(owner_client, location, 0, body[:100])

    wrong = tus_patch(owner_client, location, 50, b"x" * 50)

    assert wrong.status_code == 409
    upload = Upload.objects.get()
    assert upload.offset == 100
    assert upload.part_path.read_bytes() == body[:100]


@override_settings(DPO_UPLOAD_MAX_BYTES=1000)
def test_it_refuses_a_file_over_the_limit_before_any_byte(owner_client, owner):
    new_dataset(owner)

    response = tus_create(owner_client, "prefs", 1001)

    assert response.status_code == 413
    assert "1000 bytes" in response.json()["error"]["message"]
    assert not Upload.objects.exists()


def test_it_wants_the_tus_content_type_on_patch(owner_client, owner):
    new_dataset(owner)
    location = tus_create(owner_client, "prefs", 10)["Location"]

    response = owner_client.generic(
        "PATCH",
        location,
        data=b"0123456789",
        content_type="text/plain",
        headers={"Tus-Resumable": "1.0.0", "Upload-Offset": "0"},
    )

    assert response.status_code == 415
    assert Upload.objects.get().offset == 0


def test_it_refuses_another_tus_version(owner_client, owner):
    new_dataset(owner)

    response = owner_client.post(
        "/uploads/", headers={"Tus-Resumable": "0.2.0", "Upload-Length": "10"}
    )

    assert response.status_code == 412


def test_it_advertises_the_protocol_on_options(owner_client):
    response = owner_client.options("/uploads/")

    assert response.status_code == 204
    assert response["Tus-Version"] == "1.0.0"
    assert "creation" in response["Tus-Extension"]
    assert "termination" in response["Tus-Extension"]


def test_it_deletes_the_partial_file_when_terminated(owner_client, owner):
    new_dataset(owner)
    location = tus_create(owner_client, "prefs", 100)["Location"]
    tus_patch(owner_client, location, 0, b"{" * 10)
    upload = Upload.objects.get()

    response = owner_client.delete(location, headers={"Tus-Resumable": "1.0.0"})

    assert response.status_code == 204
    assert not upload.part_path.exists()
    assert owner_client.head(location).status_code == 404


def test_an_outsider_cannot_see_or_write_an_upload(
    owner_client, owner, outsider_client
):
    new_dataset(owner)
    location = tus_create(owner_client, "prefs", 100)["Location"]

    assert outsider_client.head(location).status_code == 404
    refused = tus_patch(outsider_client, location, 0, b"x" * 10)
    assert refused.status_code == 404
    assert refused["Tus-Resumable"] == "1.0.0"
    assert "No such upload" in refused.json()["error"]["message"]
    assert Upload.objects.get().offset == 0


def test_an_outsider_cannot_upload_into_another_users_dataset(owner, outsider_client):
    new_dataset(owner)

    response = tus_create(outsider_client, "prefs", 100)

    assert response.status_code == 404


def test_it_answers_a_client_that_is_not_signed_in_with_401_in_json(client, owner):
    new_dataset(owner)

    response = tus_create(client, "prefs", 100)

    assert response.status_code == 401
    assert "Sign in" in response.json()["error"]["message"]
    assert not Upload.objects.exists()


def test_it_answers_401_to_a_head_without_a_session(owner_client, owner):
    new_dataset(owner)
    location = tus_create(owner_client, "prefs", 100)["Location"]

    response = Client().head(location, headers={"Tus-Resumable": "1.0.0"})

    assert response.status_code == 401


def test_it_refuses_a_session_request_without_the_csrf_token(owner, owner_client):
    new_dataset(owner)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(owner)

    response = tus_create(strict, "prefs", 100)

    assert response.status_code == 403
    assert "X-CSRFToken" in response.json()["error"]["message"]
    assert not Upload.objects.exists()


def test_it_accepts_a_session_request_with_the_csrf_token(owner):
    new_dataset(owner)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(owner)
    strict.get("/datasets/prefs/upload/")
    token = strict.cookies["csrftoken"].value

    response = strict.post(
        "/uploads/",
        headers={
            "Tus-Resumable": "1.0.0",
            "Upload-Length": "100",
            "Upload-Metadata": tus_metadata(dataset="prefs"),
            "X-CSRFToken": token,
        },
    )

    assert response.status_code == 201


def test_a_viewer_of_the_account_cannot_create_an_upload(owner, django_user_model):
    new_dataset(owner)
    viewer = django_user_model.objects.create_user("viewer", password="pw-123456")
    Membership.objects.create(
        account=personal_account(owner), user=viewer, role=Membership.ROLE_VIEWER
    )
    viewer_client = Client()
    viewer_client.force_login(viewer)

    response = tus_create(viewer_client, "prefs", 100)

    assert response.status_code == 403
    assert "Viewers can look" in response.json()["error"]["message"]
    assert not Upload.objects.exists()


def test_it_advertises_the_max_size_and_checksum_algorithms_on_options(client):
    response = client.options("/uploads/")

    assert response["Tus-Max-Size"] == str(settings.DPO_UPLOAD_MAX_BYTES)
    assert response["Tus-Checksum-Algorithm"] == "sha1,sha256"
    assert set(response["Tus-Extension"].split(",")) == {
        "creation",
        "termination",
        "checksum",
        "expiration",
    }


@pytest.mark.parametrize("algorithm", ["sha1", "sha256"])
def test_it_appends_a_chunk_whose_checksum_matches(owner_client, owner, algorithm):
    new_dataset(owner)
    location = tus_create(owner_client, "prefs", 100)["Location"]
    chunk = b"{" * 40

    response = tus_patch(
        owner_client,
        location,
        0,
        chunk,
        **{"Upload-Checksum": tus_checksum(algorithm, chunk)},
    )

    assert response.status_code == 204
    upload = Upload.objects.get()
    assert upload.offset == 40
    assert upload.part_path.read_bytes() == chunk


@pytest.mark.parametrize("algorithm", ["sha1", "sha256"])
def test_it_refuses_a_chunk_whose_checksum_differs_and_writes_nothing(
    owner_client, owner, algorithm
):
    new_dataset(owner)
    location = tus_create(owner_client, "prefs", 100)["Location"]
    tus_patch(owner_client, location, 0, b"a" * 10)

    response = tus_patch(
        owner_client,
        location,
        10,
        b"b" * 40,
        **{"Upload-Checksum": tus_checksum(algorithm, b"c" * 40)},
    )

    assert response.status_code == 460
    assert response["Upload-Offset"] == "10"
    upload = Upload.objects.get()
    assert upload.offset == 10
    assert upload.part_path.read_bytes() == b"a" * 10


def test_it_refuses_a_checksum_algorithm_it_does_not_offer(owner_client, owner):
    new_dataset(owner)
    location = tus_create(owner_client, "prefs", 100)["Location"]

    response = tus_patch(
        owner_client, location, 0, b"a" * 10, **{"Upload-Checksum": "md5 AAAA"}
    )

    assert response.status_code == 400
    assert "sha1, sha256" in response.json()["error"]["message"]
    assert Upload.objects.get().offset == 0


def test_it_refuses_a_chunk_that_runs_past_the_declared_length(owner_client, owner):
    new_dataset(owner)
    location = tus_create(owner_client, "prefs", 10)["Location"]

    response = tus_patch(owner_client, location, 0, b"a" * 11)

    assert response.status_code == 413
    assert Upload.objects.get().part_path.read_bytes() == b""


def test_it_states_when_an_upload_expires(owner_client, owner):
    new_dataset(owner)

    created = tus_create(owner_client, "prefs", 100)

    expires = parse_http_date(created["Upload-Expires"])
    upload = Upload.objects.get()
    assert abs(expires - upload.expires_at.timestamp()) < 1
    hours = (upload.expires_at - upload.created_at).total_seconds() / 3600
    assert round(hours) == settings.DPO_UPLOAD_EXPIRES_HOURS


def test_an_expired_upload_answers_410_to_head_and_patch(owner_client, owner):
    new_dataset(owner)
    location = tus_create(owner_client, "prefs", 100)["Location"]
    Upload.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    head = owner_client.head(location, headers={"Tus-Resumable": "1.0.0"})
    patch = tus_patch(owner_client, location, 0, b"a" * 10)

    assert head.status_code == 410
    assert patch.status_code == 410
    assert Upload.objects.get().offset == 0


def test_a_terminated_upload_takes_no_more_bytes(owner_client, owner):
    new_dataset(owner)
    location = tus_create(owner_client, "prefs", 100)["Location"]
    owner_client.delete(location, headers={"Tus-Resumable": "1.0.0"})

    response = tus_patch(owner_client, location, 0, b"a" * 10)

    assert response.status_code == 404
    assert Upload.objects.get().state == Upload.STATE_TERMINATED


def test_it_records_the_sha256_of_the_whole_file(owner_client, owner):
    dataset = new_dataset(owner)
    body = jsonl_bytes(6)
    location = tus_create(owner_client, "prefs", len(body))["Location"]

    tus_patch(owner_client, location, 0, body)

    dataset.refresh_from_db()
    assert dataset.sha256 == hashlib.sha256(body).hexdigest()


def test_it_takes_a_file_whose_sha256_matches_the_clients(owner_client, owner):
    dataset = new_dataset(owner)
    body = jsonl_bytes(6)
    digest = hashlib.sha256(body).hexdigest()
    location = tus_create(owner_client, "prefs", len(body), sha256=digest)["Location"]

    response = tus_patch(owner_client, location, 0, body)

    assert response.status_code == 204
    dataset.refresh_from_db()
    assert dataset.state == Dataset.STATE_VALIDATING


def test_it_discards_a_file_whose_sha256_differs_from_the_clients(owner_client, owner):
    dataset = new_dataset(owner, "prefs-sha")
    body = jsonl_bytes(6)
    other = hashlib.sha256(b"another file").hexdigest()
    created = tus_create(owner_client, "prefs-sha", len(body), sha256=other)
    location = created["Location"]

    response = tus_patch(owner_client, location, 0, body)

    assert response.status_code == 460
    assert other in response.json()["error"]["message"]
    dataset.refresh_from_db()
    assert dataset.state == Dataset.STATE_UPLOADING
    assert not dataset.file_path.exists()
    assert not Upload.objects.get().part_path.exists()


def test_it_refuses_sha256_metadata_that_is_not_a_digest(owner_client, owner):
    new_dataset(owner)

    response = tus_create(owner_client, "prefs", 100, sha256="abc")

    assert response.status_code == 400
    assert not Upload.objects.exists()


def test_a_second_upload_cannot_replace_the_file_a_dataset_already_took(
    owner_client, owner
):
    dataset = new_dataset(owner)
    body = jsonl_bytes(6)
    first = tus_create(owner_client, "prefs", len(body))["Location"]
    second = tus_create(owner_client, "prefs", len(body))["Location"]
    tus_patch(owner_client, first, 0, body)

    response = tus_patch(owner_client, second, 0, body.upper())

    assert response.status_code == 409
    assert dataset.file_path.read_bytes() == body


def test_the_api_path_allows_files_up_to_its_own_larger_limit(owner):
    new_dataset(owner)
    request = _api_request(owner, length=5000)

    with override_settings(DPO_UPLOAD_MAX_BYTES=1000, DPO_API_UPLOAD_MAX_BYTES=8000):
        response = uploads.collection(request)

    assert response.status_code == 201
    assert Upload.objects.get().length == 5000


def test_the_api_path_refuses_a_file_over_its_limit_naming_it(owner):
    new_dataset(owner)
    request = _api_request(owner, length=9000)

    with override_settings(DPO_UPLOAD_MAX_BYTES=1000, DPO_API_UPLOAD_MAX_BYTES=8000):
        response = uploads.collection(request)

    assert response.status_code == 413
    assert "8000 bytes" in json.loads(response.content)["error"]["message"]
    assert not Upload.objects.exists()


def test_options_advertise_the_api_limit_to_an_api_client(owner):
    request = RequestFactory().options("/uploads/")
    request.user = owner
    request.api_key = object()

    with override_settings(DPO_API_UPLOAD_MAX_BYTES=8000):
        response = uploads.collection(request)

    assert response["Tus-Max-Size"] == "8000"


def _api_request(user, length):
    """A request as the API's Bearer-key middleware hands it on: user and api_key
    set, no session and no CSRF token."""
    request = RequestFactory().post(
        "/uploads/",
        headers={
            "Tus-Resumable": "1.0.0",
            "Upload-Length": str(length),
            "Upload-Metadata": tus_metadata(dataset="prefs"),
        },
    )
    request.user = user
    request.api_key = object()
    return request


def test_cleanup_removes_expired_partial_uploads_and_keeps_live_ones(
    owner_client, owner
):
    new_dataset(owner)
    tus_create(owner_client, "prefs", 100)
    tus_create(owner_client, "prefs", 100)
    expired, live = Upload.objects.order_by("created_at")
    Upload.objects.filter(pk=expired.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )

    call_command("cleanup_uploads", stdout=io.StringIO())

    assert list(Upload.objects.all()) == [live]
    assert not expired.part_path.exists()
    assert live.part_path.exists()


def test_cleanup_removes_terminated_rows_and_stray_partial_files(owner_client, owner):
    new_dataset(owner)
    location = tus_create(owner_client, "prefs", 100)["Location"]
    owner_client.delete(location, headers={"Tus-Resumable": "1.0.0"})
    stray = settings.DATA_DIR / "uploads" / "0123abcd.part"
    stray.write_bytes(b"left by a crash")
    old = time.time() - 7200
    os.utime(stray, (old, old))
    out = io.StringIO()

    call_command("cleanup_uploads", stdout=out)

    assert not Upload.objects.exists()
    assert not stray.exists()
    assert "1 terminated upload row(s) and 1 stray" in out.getvalue()
