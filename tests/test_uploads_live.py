"""The tus endpoint against a real server process: a third-party client (tuspy),
two PATCHes at once, and the server's memory during a large chunk."""

import http.client
import time
from urllib.parse import urlsplit

import pytest
from tusclient import client as tus_client
from tusclient.storage.filestorage import FileStorage

from datasets_app.models import Dataset, Upload
from tests.helpers import jsonl_bytes, new_dataset
from tests.live_portal import portal_server, session_headers  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

CHUNK = 64 * 1024


def a_file(tmp_path, count=2000):
    path = tmp_path / "prefs.jsonl"
    path.write_bytes(jsonl_bytes(count))
    return path


def tuspy_for(portal_server, owner):  # noqa: F811
    session = portal_server.signed_in(owner.username)
    return tus_client.TusClient(
        f"{portal_server.url}/uploads/", headers=session_headers(session)
    )


def test_tuspy_uploads_a_file_in_chunks_with_checksums(
    portal_server,  # noqa: F811
    owner,
    tmp_path,
):
    dataset = new_dataset(owner)
    path = a_file(tmp_path)
    uploader = tuspy_for(portal_server, owner).uploader(
        str(path),
        chunk_size=CHUNK,
        metadata={"filename": "prefs.jsonl", "dataset": "prefs"},
        upload_checksum=True,
    )

    uploader.upload()

    dataset.refresh_from_db()
    assert path.stat().st_size > 3 * CHUNK
    assert dataset.state == Dataset.STATE_VALIDATING
    assert dataset.file_path.read_bytes() == path.read_bytes()
    assert dataset.file_name == "prefs.jsonl"


def test_tuspy_resumes_an_upload_after_it_was_stopped_mid_file(
    portal_server,  # noqa: F811
    owner,
    tmp_path,
):
    dataset = new_dataset(owner)
    path = a_file(tmp_path)
    size = path.stat().st_size
    storage = FileStorage(str(tmp_path / "tus-urls.json"))
    options = {
        "chunk_size": CHUNK,
        "metadata": {"filename": "prefs.jsonl", "dataset": "prefs"},
        "store_url": True,
        "url_storage": storage,
    }
    first = tuspy_for(portal_server, owner).uploader(str(path), **options)
    first.upload(stop_at=2 * CHUNK)
    stopped_at = first.offset

    # A new client process would start like this: from the stored URL.
    second = tuspy_for(portal_server, owner).uploader(str(path), **options)
    resumed_at = second.offset
    second.upload()

    assert 0 < stopped_at < size
    assert resumed_at == stopped_at
    assert second.url == first.url
    assert Upload.objects.count() == 1
    dataset.refresh_from_db()
    assert dataset.file_path.read_bytes() == path.read_bytes()


def open_patch(portal_server, session, location, offset, length):  # noqa: F811
    """Start a PATCH of `length` bytes at `offset` and leave its body to be sent."""
    url = urlsplit(portal_server.url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    connection.putrequest("PATCH", urlsplit(location).path)
    headers = {
        **session_headers(session),
        "Tus-Resumable": "1.0.0",
        "Upload-Offset": str(offset),
        "Content-Type": "application/offset+octet-stream",
        "Content-Length": str(length),
    }
    for name, value in headers.items():
        connection.putheader(name, value)
    connection.endheaders()
    return connection


def create_upload(session, portal_server, length):  # noqa: F811
    from tests.helpers import tus_metadata

    created = session.post(
        f"{portal_server.url}/uploads/",
        headers={
            "Tus-Resumable": "1.0.0",
            "Upload-Length": str(length),
            "Upload-Metadata": tus_metadata(filename="big.bin", dataset="prefs"),
            "X-CSRFToken": session.cookies["csrftoken"],
        },
        timeout=30,
    )
    assert created.status_code == 201, created.text
    return created.headers["Location"]


def wait_for_bytes(path, count, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and path.stat().st_size >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"{path} did not reach {count} bytes in {seconds} s")


def test_two_concurrent_patches_on_one_upload_cannot_interleave(
    portal_server,  # noqa: F811
    owner,
):
    new_dataset(owner)
    session = portal_server.signed_in(owner.username)
    length = 8 * CHUNK
    location = create_upload(session, portal_server, length)
    part = Upload.objects.get().part_path

    writer = open_patch(portal_server, session, location, 0, length)
    writer.send(b"a" * (2 * CHUNK))
    wait_for_bytes(part, CHUNK)  # the first PATCH holds the lock and is writing

    rival = open_patch(portal_server, session, location, 0, length)
    rival.send(b"b" * length)
    refused = rival.getresponse()
    writer.send(b"a" * (length - 2 * CHUNK))
    done = writer.getresponse()

    assert refused.status == 409
    assert b"Another request is writing" in refused.read()
    assert done.status == 204
    upload = Upload.objects.get()
    assert upload.offset == length
    assert upload.dataset.file_path.read_bytes() == b"a" * length


def test_the_server_streams_a_64_mb_chunk_without_holding_it_in_memory(
    portal_server,  # noqa: F811
    owner,
):
    new_dataset(owner)
    session = portal_server.signed_in(owner.username)
    length = 64 * 1024 * 1024
    location = create_upload(session, portal_server, length)
    before = portal_server.peak_rss_kib()

    patch = open_patch(portal_server, session, location, 0, length)
    piece = bytes(range(256)) * 4096  # 1 MiB
    for _ in range(length // len(piece)):
        patch.send(piece)
    answer = patch.getresponse()

    grown_mib = (portal_server.peak_rss_kib() - before) / 1024
    assert answer.status == 204
    assert Upload.objects.get().offset == length
    assert grown_mib < 16, f"the server's peak RSS grew by {grown_mib:.0f} MiB"
