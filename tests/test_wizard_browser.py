"""The upload wizard in a real browser: Debian's Chromium driven by Playwright,
against a real server process and a real RQ worker.

The connection is cut mid-upload by aborting chunk requests for a while; the
wizard's client must retry, resume and finish, and the page must then show the
validation report. Screenshots of each step go to test-artifacts/wizard/.
"""

import json
from pathlib import Path

import pytest
from django.conf import settings

from datasets_app.models import Dataset, Upload
from tests.helpers import example
from tests.live_portal import PASSWORD, portal_server  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = settings.BASE_DIR / "test-artifacts" / "wizard"
CHUNK = 64 * 1024


@pytest.fixture
def browser_page(monkeypatch):
    # Playwright's sync API keeps an event loop running in this thread; the test's
    # own database reads are still plain synchronous calls.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: install the test extras (make setup)")
    if not CHROMIUM.exists():
        pytest.fail(
            f"Debian's Chromium is missing at {CHROMIUM}: `make setup` installs it "
            "(apt-get install -y chromium); Playwright's own browsers are not used."
        )

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.set_default_timeout(60_000)
        yield page
        browser.close()


def a_dataset_file(tmp_path, count=1500):
    rows = [
        example(f"Question {n}: what is {n} + {n}?", f"It is {2 * n}.", "No idea.")
        for n in range(count)
    ]
    path = tmp_path / "wizard-prefs.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def sign_in(page, portal, username):
    page.goto(f"{portal.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{portal.url}/")


def cut_the_connection_after(page, good_chunks, cut_chunks):
    """Let `good_chunks` PATCHes through, abort the next `cut_chunks`, then let
    every one through again; returns the counts seen so far."""
    seen = {"passed": 0, "aborted": 0}

    def handle(route):
        if route.request.method != "PATCH":
            route.continue_()
            return
        if seen["passed"] >= good_chunks and seen["aborted"] < cut_chunks:
            seen["aborted"] += 1
            route.abort("connectionreset")
            return
        seen["passed"] += 1
        route.continue_()

    page.route("**/uploads/*", handle)
    return seen


def test_the_wizard_resumes_after_a_cut_connection_and_shows_the_report(
    browser_page,
    portal_server,  # noqa: F811
    owner,
    run_worker,
    tmp_path,
):
    page = browser_page
    path = a_dataset_file(tmp_path)
    assert path.stat().st_size > 5 * CHUNK
    sign_in(page, portal_server, owner.username)

    page.goto(f"{portal_server.url}/datasets/new/")
    page.fill("input[name=dataset_id]", "wizard-prefs")
    page.screenshot(path=SHOTS / "1-name.png", full_page=True)
    page.click("text=Next: upload the file")
    page.wait_for_url("**/datasets/wizard-prefs/upload/")

    # Small chunks, so that a small file takes several and one can be cut.
    page.goto(f"{page.url}?chunk_bytes={CHUNK}")
    seen = cut_the_connection_after(page, good_chunks=2, cut_chunks=3)
    page.set_input_files("#file", str(path))
    page.screenshot(path=SHOTS / "2-file-chosen.png", full_page=True)
    page.click("#start")

    page.wait_for_selector("text=Connection problem")
    page.screenshot(path=SHOTS / "3-connection-cut.png", full_page=True)
    page.wait_for_url("**/datasets/wizard-prefs/")
    page.screenshot(path=SHOTS / "4-validating.png", full_page=True)

    run_worker(queues=("default",))
    page.wait_for_selector("text=Valid: every example follows the format")
    page.screenshot(path=SHOTS / "5-report.png", full_page=True)

    assert seen["aborted"] == 3
    assert "Examples: 1,500" in page.inner_text("body")
    assert page.is_visible("#preview")
    dataset = Dataset.objects.get(dataset_id="wizard-prefs")
    assert dataset.state == Dataset.STATE_READY
    assert dataset.file_path.read_bytes() == path.read_bytes()
    assert Upload.objects.get().state == Upload.STATE_COMPLETE


def test_the_wizard_finds_its_upload_again_after_a_page_reload(
    browser_page,
    portal_server,  # noqa: F811
    owner,
    tmp_path,
):
    page = browser_page
    path = a_dataset_file(tmp_path)
    sign_in(page, portal_server, owner.username)
    page.goto(f"{portal_server.url}/datasets/new/")
    page.fill("input[name=dataset_id]", "reload-prefs")
    page.click("text=Next: upload the file")
    page.wait_for_url("**/datasets/reload-prefs/upload/")
    upload_page = f"{page.url}?chunk_bytes={CHUNK}"

    # Every chunk after the second fails, until the page is reloaded.
    page.goto(upload_page)
    seen = cut_the_connection_after(page, good_chunks=2, cut_chunks=10**6)
    page.set_input_files("#file", str(path))
    page.click("#start")
    page.wait_for_selector("text=Connection problem")
    page.unroute("**/uploads/*")
    page.goto(upload_page)
    page.set_input_files("#file", str(path))
    page.click("#start")
    page.wait_for_url("**/datasets/reload-prefs/")
    page.screenshot(path=SHOTS / "6-resumed-after-reload.png", full_page=True)

    assert seen["passed"] == 2
    upload = Upload.objects.get()
    assert upload.state == Upload.STATE_COMPLETE
    assert upload.dataset.file_path.read_bytes() == path.read_bytes()


@pytest.mark.portal_env(DPO_UPLOAD_MAX_BYTES="1000")
def test_the_wizard_refuses_a_file_over_the_browser_limit_before_sending_it(
    browser_page,
    portal_server,  # noqa: F811
    owner,
    tmp_path,
):
    page = browser_page
    sign_in(page, portal_server, owner.username)
    page.goto(f"{portal_server.url}/datasets/new/")
    page.fill("input[name=dataset_id]", "big-prefs")
    page.click("text=Next: upload the file")
    page.wait_for_url("**/datasets/big-prefs/upload/")

    page.set_input_files("#file", str(a_dataset_file(tmp_path)))
    page.screenshot(path=SHOTS / "7-too-large.png", full_page=True)

    assert "Upload it with the API or the dpoctl client" in page.inner_text(
        ".upload-error"
    )
    assert page.is_disabled("#start")
    assert not Upload.objects.exists()


def test_cancelling_the_wizard_terminates_the_upload_on_the_server(
    browser_page,
    portal_server,  # noqa: F811
    owner,
    tmp_path,
):
    page = browser_page
    sign_in(page, portal_server, owner.username)
    page.goto(f"{portal_server.url}/datasets/new/")
    page.fill("input[name=dataset_id]", "cancel-prefs")
    page.click("text=Next: upload the file")
    page.wait_for_url("**/datasets/cancel-prefs/upload/")
    page.goto(f"{page.url}?chunk_bytes={CHUNK}")
    cut_the_connection_after(page, good_chunks=2, cut_chunks=10**6)
    page.set_input_files("#file", str(a_dataset_file(tmp_path)))
    page.click("#start")
    page.wait_for_selector("text=Connection problem")

    page.click("#cancel")
    page.wait_for_selector("text=Upload cancelled")

    upload = Upload.objects.get()
    assert upload.state == Upload.STATE_TERMINATED
    assert not upload.part_path.exists()
    assert Dataset.objects.get(dataset_id="cancel-prefs").state == "UPLOADING"
