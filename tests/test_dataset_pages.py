"""The dataset page: report grouped by kind, statistics, paged preview, download
and delete."""

import json

import pytest
from django.test import Client

from datasets_app.models import Dataset
from datasets_app.preview import read_lines
from datasets_app.tasks import validate_dataset
from datasets_app.validation import LineIndex
from dpo_portal.accounts import personal_account
from dpo_portal.models import Membership
from jobs_app import states
from jobs_app.models import DpoJob, LanguageModel
from tests.helpers import example, new_dataset

pytestmark = pytest.mark.django_db


def validated(owner, lines, dataset_id="prefs"):
    """A dataset whose file is `lines`, validated by the worker's task."""
    dataset = new_dataset(owner, dataset_id)
    dataset.folder.mkdir(parents=True, exist_ok=True)
    dataset.file_path.write_bytes(b"".join(line + b"\n" for line in lines))
    Dataset.objects.filter(pk=dataset.pk).update(
        state=Dataset.STATE_VALIDATING, file_name="prefs.jsonl"
    )
    validate_dataset(dataset.pk)
    dataset.refresh_from_db()
    return dataset


def numbered_lines(count):
    return [
        json.dumps(example(f"Question number {n}?", f"Answer {n}.", "No.")).encode()
        for n in range(1, count + 1)
    ]


@pytest.fixture
def base_model():
    return LanguageModel.objects.create(
        model_id="tiny-base", kind=LanguageModel.KIND_BASE, path="/nowhere"
    )


def a_job(dataset, base_model, state):
    return DpoJob.objects.create(
        account=dataset.account,
        job_id=f"job-{state.lower().replace('_', '-')}",
        dataset=dataset,
        base_model=base_model,
        output_model_id="tuned",
        params={},
        state=state,
    )


def test_validation_saves_a_line_index_next_to_the_file(owner):
    dataset = validated(owner, numbered_lines(250))

    index = LineIndex.load(dataset.line_index_path)

    content = dataset.file_path.read_bytes()
    starts = [0] + [n + 1 for n, byte in enumerate(content) if byte == ord("\n")]
    assert list(index.offsets) == [starts[0], starts[100], starts[200]]


def test_a_deep_page_shows_its_lines_and_no_others(owner_client, owner):
    validated(owner, numbered_lines(250))

    page = owner_client.get("/datasets/prefs/?page=11").content.decode()

    assert "Question number 201?" in page
    assert "Question number 220?" in page
    assert "Question number 200?" not in page
    assert "Question number 221?" not in page
    assert "page 11 of 13" in page


def test_the_preview_seeks_by_the_index_instead_of_reading_from_the_start(owner):
    dataset = validated(owner, numbered_lines(250))
    index = LineIndex.load(dataset.line_index_path)
    # Overwrite everything before line 201 without its newlines: a reader that
    # counted lines from the start of the file would now find other lines.
    content = bytearray(dataset.file_path.read_bytes())
    content[: index.offsets[2]] = b"x" * index.offsets[2]
    dataset.file_path.write_bytes(bytes(content))

    lines = read_lines(dataset, 205, 2)

    assert [line.number for line in lines] == [205, 206]
    assert lines[0].messages[0]["content"] == "Question number 205?"


def test_a_line_number_opens_its_page_and_marks_the_line(owner_client, owner):
    validated(owner, numbered_lines(250))

    page = owner_client.get("/datasets/prefs/?line=137").content.decode()

    assert "page 7 of 13" in page
    assert 'class="example marked" id="line-137"' in page


def test_the_page_past_the_end_shows_the_last_page(owner_client, owner):
    validated(owner, numbered_lines(45))

    page = owner_client.get("/datasets/prefs/?page=99").content.decode()

    assert "page 3 of 3" in page
    assert "Question number 45?" in page


def test_the_preview_partial_pages_without_the_rest_of_the_page(owner_client, owner):
    validated(owner, numbered_lines(45))

    response = owner_client.get("/datasets/prefs/preview/?page=2")

    assert b"Question number 21?" in response.content
    assert b"<html" not in response.content


def test_the_report_groups_errors_by_kind_with_links_to_their_lines(
    owner_client, owner
):
    lines = numbered_lines(5)
    lines[1] = b"not json"
    lines[3] = b"also not json"
    lines.append(json.dumps({"input": {"messages": []}}).encode())
    validated(owner, lines)

    page = owner_client.get("/datasets/prefs/").content.decode()

    assert "<code>invalid_json</code> · 2" in page
    assert '<a href="/datasets/prefs/?line=2#line-2">2</a>' in page
    assert '<a href="/datasets/prefs/?line=4#line-4">4</a>' in page
    assert "<code>empty_messages</code> · 1" in page


def test_a_raw_line_in_the_preview_is_escaped(owner_client, owner):
    lines = numbered_lines(3) + [b"<img src=x onerror=alert(1)>"]
    validated(owner, lines)

    page = owner_client.get("/datasets/prefs/?line=4").content.decode()

    assert "<img src=x onerror=alert(1)>" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_the_page_shows_the_statistics_of_the_examples(owner_client, owner):
    lines = numbered_lines(4) + [json.dumps(example("Same?", "Yes.", "Yes.")).encode()]
    lines.append(lines[0])
    dataset = validated(owner, lines)

    page = owner_client.get("/datasets/prefs/").content.decode()

    assert dataset.report["stats"]["identical_pairs"] == 1
    assert "Examples: 6" in page
    assert "identical pairs: 1" in page
    assert "duplicates: 1" in page
    assert "Prompt characters" in page
    assert dataset.sha256 in page


def test_a_file_without_a_valid_example_shows_no_empty_statistics(owner_client, owner):
    dataset = validated(owner, [b"not json", b"[1]", b'{"input": {}}'])

    page = owner_client.get("/datasets/prefs/").content.decode()

    assert dataset.state == Dataset.STATE_INVALID
    assert "nothing to measure" in page
    assert "Prompt characters" not in page
    assert "None" not in page


def test_the_summary_counts_the_valid_examples_beside_all(owner_client, owner):
    validated(owner, [*numbered_lines(3), b"not json"])

    page = owner_client.get("/datasets/prefs/").content.decode()

    assert "Examples: 4 (3 valid)" in page


def test_the_status_partial_asks_for_a_full_reload_once_validation_ends(
    owner_client, owner
):
    validated(owner, numbered_lines(5))

    response = owner_client.get(
        "/datasets/prefs/status/", headers={"HX-Request": "true"}
    )

    assert response["HX-Refresh"] == "true"


def test_the_owner_downloads_the_file_as_uploaded(owner_client, owner):
    dataset = validated(owner, numbered_lines(5))

    response = owner_client.get("/datasets/prefs/download/")

    assert b"".join(response.streaming_content) == dataset.file_path.read_bytes()
    assert 'filename="prefs.jsonl"' in response["Content-Disposition"]


@pytest.mark.parametrize("url", ["preview/", "download/"])
def test_an_outsider_cannot_read_another_accounts_file(owner, outsider_client, url):
    validated(owner, numbered_lines(5))

    response = outsider_client.get(f"/datasets/prefs/{url}")

    assert response.status_code == 404


def test_the_owner_deletes_a_dataset_and_its_files(owner_client, owner):
    dataset = validated(owner, numbered_lines(5))

    response = owner_client.post("/datasets/prefs/delete/", follow=True)

    assert not Dataset.objects.exists()
    assert not dataset.folder.exists()
    assert b"Dataset prefs and its file were deleted." in response.content


def test_delete_is_refused_while_an_active_job_uses_the_dataset(
    owner_client, owner, base_model
):
    dataset = validated(owner, numbered_lines(5))
    a_job(dataset, base_model, states.RUNNING)

    response = owner_client.post("/datasets/prefs/delete/", follow=True)

    assert Dataset.objects.filter(pk=dataset.pk).exists()
    assert dataset.file_path.exists()
    assert b"used by an active DPO job (job-job-state-running)" in response.content


def test_delete_is_refused_while_a_finished_job_records_the_dataset(
    owner_client, owner, base_model
):
    dataset = validated(owner, numbered_lines(5))
    a_job(dataset, base_model, states.COMPLETED)

    response = owner_client.post("/datasets/prefs/delete/", follow=True)

    assert dataset.file_path.exists()
    assert b"delete those jobs first" in response.content


def test_an_outsider_cannot_delete_another_accounts_dataset(owner, outsider_client):
    dataset = validated(owner, numbered_lines(5))

    response = outsider_client.post("/datasets/prefs/delete/")

    assert response.status_code == 404
    assert dataset.file_path.exists()


def test_a_viewer_cannot_delete_the_dataset(owner, django_user_model):
    dataset = validated(owner, numbered_lines(5))
    viewer = django_user_model.objects.create_user("viewer", password="pw-123456")
    Membership.objects.create(
        account=personal_account(owner), user=viewer, role=Membership.ROLE_VIEWER
    )
    viewer_client = Client()
    viewer_client.force_login(viewer)

    response = viewer_client.post("/datasets/prefs/delete/")

    assert response.status_code == 403
    assert dataset.file_path.exists()


def test_delete_wants_a_post(owner_client, owner):
    validated(owner, numbered_lines(5))

    response = owner_client.get("/datasets/prefs/delete/")

    assert response.status_code == 405
    assert Dataset.objects.exists()


def test_the_admin_action_deletes_datasets_with_their_files(
    owner, admin_client, base_model
):
    free = validated(owner, numbered_lines(5))
    used = validated(owner, numbered_lines(5), dataset_id="used")
    a_job(used, base_model, states.PENDING)

    response = admin_client.post(
        "/admin/datasets_app/dataset/",
        {"action": "delete_with_files", "_selected_action": [free.pk, used.pk]},
        follow=True,
    )

    assert list(Dataset.objects.all()) == [used]
    assert not free.folder.exists()
    assert used.file_path.exists()
    assert b"used by an active DPO job" in response.content


def test_the_page_shows_validation_progress_in_bytes(owner_client, owner):
    dataset = new_dataset(owner)
    Dataset.objects.filter(pk=dataset.pk).update(
        state=Dataset.STATE_VALIDATING,
        validation_bytes_done=3 * 1024 * 1024,
        validation_bytes_total=12 * 1024 * 1024,
    )

    page = owner_client.get("/datasets/prefs/").content.decode()

    assert "25%" in page
    assert "3.0\xa0MB of 12.0\xa0MB" in page


def test_the_upload_page_ignores_a_chunk_size_that_is_not_a_number(owner_client, owner):
    new_dataset(owner)

    response = owner_client.get("/datasets/prefs/upload/?chunk_bytes=lots")

    assert response.status_code == 200
    assert b"data-chunk-bytes" not in response.content
