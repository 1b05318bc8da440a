"""The resumable (tus) upload endpoint, driven chunk by chunk."""

import pytest
from django.test import override_settings

from datasets_app.models import Dataset, Upload
from tests.helpers import jsonl_bytes, new_dataset, tus_create, tus_patch

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
    assert tus_patch(outsider_client, location, 0, b"x" * 10).status_code == 404
    assert Upload.objects.get().offset == 0


def test_an_outsider_cannot_upload_into_another_users_dataset(owner, outsider_client):
    new_dataset(owner)

    response = tus_create(outsider_client, "prefs", 100)

    assert response.status_code == 404


def test_it_needs_a_signed_in_user(client, owner):
    new_dataset(owner)

    response = tus_create(client, "prefs", 100)

    assert response.status_code == 302
    assert not Upload.objects.exists()
