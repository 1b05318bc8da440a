"""The playground in a real browser (Debian's Chromium driven by Playwright)
against a real gunicorn process and a real `inference` worker."""

from pathlib import Path

import pytest
from django.conf import settings

from models_app import services
from tests.models.conftest import wait_until_ready
from tests.models.test_serving import local_answer

pytestmark = pytest.mark.django_db(transaction=True)

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = settings.BASE_DIR / "test-artifacts" / "playground"
BOTH_ANSWERED = """() => {
  const speeds = [...document.querySelectorAll('.chat .speed')];
  return speeds.length === 2 && speeds.every((s) => s.textContent.includes('tokens/s'));
}"""


@pytest.fixture
def browser_page(monkeypatch):
    # Playwright's sync API keeps an event loop running in this thread.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail(
            f"Debian's Chromium is missing at {CHROMIUM} (apt-get install chromium)."
        )
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.set_default_timeout(60_000)
        yield page
        browser.close()


def test_the_playground_shows_both_answers_with_their_tokens_per_second(
    web_server, owner, tiny_adapter, inference_worker, browser_page
):
    deployment = services.deploy(tiny_adapter.account, tiny_adapter, user=owner)
    inference_worker.start()
    wait_until_ready(deployment)
    page = browser_page
    page.goto(f"{web_server}/login/")
    page.fill("input[name=username]", "owner")
    page.fill("input[name=password]", "pw-123456")
    page.click("button[type=submit]")
    page.wait_for_url(f"{web_server}/")

    page.goto(f"{web_server}/models/tiny-tuned/playground/")
    page.fill("[name=temperature]", "0")
    page.fill("[name=max_tokens]", "12")
    page.fill("#prompt", "What is 2 + 2?")
    page.click("#playground button[type=submit]")
    page.wait_for_function(BOTH_ANSWERED)
    page.screenshot(path=str(SHOTS / "answered.png"), full_page=True)

    tuned = page.text_content(".chat[data-side=tuned] .turn.assistant")
    base = page.text_content(".chat[data-side=base] .turn.assistant")
    assert tuned == local_answer(tiny_adapter, use_adapter=True)
    assert base == local_answer(tiny_adapter, use_adapter=False)
    assert "12 tokens" in page.text_content(".chat[data-side=tuned] .speed")
