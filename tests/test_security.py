"""Production settings, CSRF, path traversal in every ID and file name, escaping."""

import json
import os
import secrets
import subprocess
import sys

import pytest
import requests
from django.conf import settings
from django.test import Client

from datasets_app.models import Dataset, Upload
from jobs_app import states
from jobs_app.models import DpoJob
from tests.api_world import base_model, ready_dataset, world
from tests.helpers import example, jsonl_bytes, tus_metadata
from tests.live import *  # noqa: F403

PRODUCTION = {
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
    "DJANGO_ALLOWED_HOSTS": "example.com",
}


def production_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(PRODUCTION)
    env["DPO_DATA_DIR"] = str(tmp_path)
    env["DPO_BASE_MODELS_DIR"] = str(settings.DPO_BASE_MODELS_DIR)
    env["DJANGO_SETTINGS_MODULE"] = "dpo_portal.settings"
    env.pop("DATABASE_URL", None)
    return env


def test_the_deploy_check_is_clean_with_production_settings(tmp_path):
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env=production_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout + done.stderr


def test_production_cookies_are_secure_and_hsts_is_on(tmp_path):
    script = (
        "import django, json; django.setup(); from django.conf import settings as s;"
        "print(json.dumps([s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE,"
        " s.SESSION_COOKIE_HTTPONLY, s.SECURE_HSTS_SECONDS, s.SECURE_SSL_REDIRECT]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=settings.BASE_DIR,
        env=production_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )

    secure, csrf_secure, http_only, hsts, redirect = json.loads(done.stdout)
    assert secure and csrf_secure and http_only and redirect
    assert hsts >= 31536000


@pytest.mark.django_db
def test_a_browser_upload_without_the_csrf_token_is_refused(cast):
    Dataset.objects.create(account=cast.account, dataset_id="prefs")
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(cast.owner.user)

    response = browser.post(
        "/uploads/",
        headers={
            "Tus-Resumable": "1.0.0",
            "Upload-Length": "10",
            "Upload-Metadata": tus_metadata(dataset="prefs"),
        },
    )

    assert response.status_code == 403
    assert not Upload.objects.exists()


@pytest.mark.django_db
def test_a_keyed_upload_needs_no_csrf_token(cast):
    Dataset.objects.create(account=cast.account, dataset_id="prefs")
    script = Client(enforce_csrf_checks=True)

    response = script.post(
        "/uploads/",
        headers={
            "Authorization": f"Bearer {cast.owner.key}",
            "Tus-Resumable": "1.0.0",
            "Upload-Length": "10",
            "Upload-Metadata": tus_metadata(dataset="prefs"),
        },
    )

    assert response.status_code == 201


@pytest.mark.django_db
def test_the_api_does_not_take_the_session_cookie(cast):
    browser = Client()
    browser.force_login(cast.owner.user)

    response = browser.post(
        "/v1/accounts/owner/datasets",
        data={"datasetId": "sneaky"},
        content_type="application/json",
    )

    assert response.status_code == 401
    assert not Dataset.objects.exists()


def files_outside_the_accounts_folder():
    """Everything under the data folder that is neither an account's nor an upload's."""
    allowed = {"accounts", "uploads", "tiny-model", "base_models", "static"}
    return sorted(
        p.name
        for p in settings.DATA_DIR.iterdir()
        if p.name not in allowed and not p.name.endswith((".sqlite3", ".log", "key"))
    )


TRAVERSALS = ["../../evil", "..", "a/../../evil", "evil/..", "%2e%2e", "..\\evil"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("bad", TRAVERSALS)
def test_a_dataset_id_cannot_walk_out_of_the_data_folder(live_portal, cast, bad):
    response = cast.owner.call("POST", "/datasets", json={"datasetId": bad})

    assert response.status_code == 400
    assert "is not valid" in response.json()["error"]["message"]
    assert not Dataset.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("bad", TRAVERSALS)
def test_a_job_id_cannot_walk_out_of_the_data_folder(live_portal, cast, bad):
    ready_dataset(cast.account)
    base_model()
    body = {
        "dpoJobId": bad,
        "dataset": "prefs",
        "trainingConfig": {"baseModel": "tiny-base", "outputModel": "fine"},
    }

    response = cast.owner.call("POST", "/dpoJobs", json=body)

    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["field"] == "dpoJobId"
    assert not DpoJob.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("bad", TRAVERSALS)
def test_a_model_id_cannot_walk_out_of_the_data_folder(live_portal, cast, bad):
    ready_dataset(cast.account)
    base_model()
    body = {
        "dataset": "prefs",
        "trainingConfig": {"baseModel": "tiny-base", "outputModel": bad},
    }

    response = cast.owner.call("POST", "/dpoJobs", json=body)

    assert response.status_code == 400
    assert not DpoJob.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "url",
    [
        "/datasets/..%2F..%2Fetc",
        "/datasets/%2e%2e",
        "/dpoJobs/..%2Fjob-one",
        "/models/..%2F..%2Fbase_models",
        "/v1/accounts/..%2Fowner/datasets",
    ],
)
def test_traversal_in_a_url_is_a_json_404_and_deletes_nothing(live_portal, cast, url):
    world(cast.account)

    response = cast.owner.call("DELETE", url)

    assert response.status_code in (404, 405)
    assert response.json()["error"]["code"] in ("NOT_FOUND", "METHOD_NOT_ALLOWED")
    assert Dataset.objects.exists() and DpoJob.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_tus_file_name_is_kept_as_a_label_only(live_portal, cast):
    Dataset.objects.create(account=cast.account, dataset_id="prefs")
    body = jsonl_bytes(3)
    created = cast.owner.call(
        "POST",
        "/uploads/",
        headers={
            "Tus-Resumable": "1.0.0",
            "Upload-Length": str(len(body)),
            "Upload-Metadata": tus_metadata(
                dataset="prefs", filename="../../../outside.jsonl"
            ),
        },
    )
    cast.owner.call(
        "PATCH",
        created.headers["Location"].removeprefix(live_portal),
        data=body,
        headers={
            "Tus-Resumable": "1.0.0",
            "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream",
        },
    )

    dataset = Dataset.objects.get()
    assert dataset.file_name == "outside.jsonl"
    assert dataset.file_path.read_bytes() == body
    assert files_outside_the_accounts_folder() == []


@pytest.mark.django_db(transaction=True)
def test_a_tus_dataset_name_cannot_point_elsewhere(live_portal, cast):
    response = cast.owner.call(
        "POST",
        "/uploads/",
        headers={
            "Tus-Resumable": "1.0.0",
            "Upload-Length": "10",
            "Upload-Metadata": tus_metadata(dataset="../outsider/datasets/x"),
        },
    )

    assert response.status_code == 404
    assert not Upload.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "name", ["../../outside.jsonl", "/etc/passwd", "..\\..\\outside.jsonl", "a\x00b"]
)
def test_a_multipart_file_name_is_kept_as_a_label_only(live_portal, cast, name):
    Dataset.objects.create(account=cast.account, dataset_id="prefs")
    body = jsonl_bytes(3)

    response = cast.owner.call(
        "POST", "/datasets/prefs:upload", files={"file": (name, body)}
    )

    assert response.status_code == 200, response.text
    dataset = Dataset.objects.get()
    assert "/" not in dataset.file_name and "\\" not in dataset.file_name
    assert ".." not in dataset.file_name
    assert dataset.file_path.read_bytes() == body
    assert files_outside_the_accounts_folder() == []


@pytest.mark.django_db(transaction=True)
def test_an_upload_metadata_file_name_from_the_api_is_sanitised(live_portal, cast):
    Dataset.objects.create(account=cast.account, dataset_id="prefs")

    endpoint = cast.owner.call(
        "POST",
        "/datasets/prefs:getUploadEndpoint",
        json={"fileName": "../../x/evil.jsonl"},
    ).json()

    assert endpoint["metadata"]["filename"] == "evil.jsonl"


HOSTILE = "<script>alert('xss')</script>"
HOSTILE_TAG = "<img src=x onerror=alert(1)>"


@pytest.mark.django_db(transaction=True)
def test_every_page_escapes_what_users_supplied(live_portal, cast, run_worker):
    """Examples, display names, error messages quoting input, job reasons, events."""
    account = cast.account
    account.display_name = HOSTILE
    account.save(update_fields=["display_name"])
    rows = [example(HOSTILE, HOSTILE_TAG, f"plain {n}") for n in range(3)]
    good = "".join(json.dumps(r) + "\n" for r in rows).encode()
    broken = (
        good
        + json.dumps(
            {**rows[0], "input": {"messages": [{"role": HOSTILE, "content": "x"}]}}
        ).encode()
        + b"\n"
        + HOSTILE.encode()
        + b"\n"
    )

    for dataset_id, body in [("hostile", good), ("broken", broken)]:
        cast.owner.call(
            "POST",
            "/datasets",
            json={"datasetId": dataset_id, "dataset": {"displayName": HOSTILE}},
        )
        cast.owner.call(
            "POST", f"/datasets/{dataset_id}:upload", files={"file": (HOSTILE, body)}
        )
    run_worker(["default"])
    assert Dataset.objects.get(dataset_id="hostile").state == Dataset.STATE_READY
    assert Dataset.objects.get(dataset_id="broken").state == Dataset.STATE_INVALID

    job = DpoJob.objects.create(
        account=account,
        job_id="job-one",
        dataset=Dataset.objects.get(dataset_id="hostile"),
        base_model=base_model(),
        output_model_id="tuned",
        params={},
        state=states.FAILED,
        failure_reason=HOSTILE,
    )
    job.events.create(message=HOSTILE, level="ERROR")

    browser = requests.Session()
    pages = _pages_with_user_content(browser, live_portal)
    for url, text in pages.items():
        assert "<script>alert(" not in text, url
        assert "<img src=x" not in text, url
    escaped = "&lt;script&gt;alert(&#x27;xss&#x27;)&lt;/script&gt;"
    shown_on = {url for url, text in pages.items() if escaped in text}
    assert shown_on >= {"/", "/account/", "/datasets/", "/datasets/hostile/"}
    assert shown_on >= {"/datasets/broken/", "/jobs/job-one/", "/jobs/job-one/live/"}
    assert "&lt;img src=x onerror=alert(1)&gt;" in pages["/datasets/hostile/"]


def _pages_with_user_content(browser, base):
    token = browser.get(f"{base}/login/").cookies.get("csrftoken") or "a" * 32
    browser.cookies.set("csrftoken", token)
    signed = browser.post(
        f"{base}/login/",
        data={
            "username": "owner",
            "password": "pw-123456",
            "csrfmiddlewaretoken": token,
        },
        headers={"Referer": f"{base}/login/"},
    )
    assert signed.url.rstrip("/") == base, signed.text[:500]
    urls = [
        "/",
        "/datasets/",
        "/datasets/hostile/",
        "/datasets/hostile/status/",
        "/datasets/broken/",
        "/datasets/broken/status/",
        "/jobs/",
        "/jobs/job-one/",
        "/jobs/job-one/live/",
        "/jobs/new/",
        "/models/",
        "/account/",
        "/account/members/",
    ]
    pages = {}
    for url in urls:
        response = browser.get(base + url)
        assert response.status_code == 200, url
        pages[url] = response.text
    return pages


@pytest.mark.django_db
def test_the_wizard_escapes_a_hostile_id_in_its_error(cast):
    browser = Client()
    browser.force_login(cast.owner.user)

    page = browser.post("/datasets/new/", {"dataset_id": HOSTILE}).content.decode()

    assert "<script>alert(" not in page
    assert "&lt;script&gt;" in page


def test_every_post_form_in_the_templates_carries_a_csrf_token():
    forms = []
    for template in (settings.BASE_DIR / "templates").rglob("*.html"):
        text = template.read_text()
        for chunk in text.split("<form")[1:]:
            body = chunk.split("</form>")[0]
            if 'method="post"' in body.split(">")[0].lower():
                forms.append((template.name, "{% csrf_token %}" in body))

    assert len(forms) >= 8
    assert [name for name, has_token in forms if not has_token] == []
