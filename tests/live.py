"""A real portal process (gunicorn on a loopback port) on the test database, and the
cast of users every API test uses: owner, teammate, viewer and outsider, each with
an API key. Import the fixtures with `from tests.live import *`."""

import os
import subprocess
import sys
import time
from dataclasses import dataclass

import pytest
import requests
from django.conf import settings

from dpo_portal.accounts import personal_account
from dpo_portal.api_keys import create_key
from dpo_portal.models import Membership
from tests.ports import free_port

__all__ = ["live_portal", "cast", "Member", "Cast", "portal_env"]


def portal_env():
    """The environment of a portal or worker process on the tests' database."""
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = "dpo_portal.test_settings"
    env["DATABASE_URL"] = f"sqlite:///{settings.DATABASES['default']['NAME']}"
    env["REDIS_URL"] = settings.REDIS_URL
    env["DPO_DATA_DIR"] = str(settings.DATA_DIR)
    return env


@pytest.fixture(scope="session")
def live_portal(django_db_setup, test_redis):
    """The base URL of a gunicorn serving the portal; stopped after the session."""
    port = free_port()
    log_path = settings.DATA_DIR / "gunicorn.log"
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "dpo_portal.wsgi:application",
        f"--bind=127.0.0.1:{port}",
        "--workers=2",
        "--threads=4",
        "--timeout=120",
    ]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, cwd=settings.BASE_DIR, env=portal_env(), stdout=log, stderr=log
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base_url, process, log_path)
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait_until_up(base_url, process, log_path):
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {log_path.read_text()[-3000:]}")
        try:
            requests.get(f"{base_url}/v1/openapi.json", timeout=30)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer: {log_path.read_text()[-3000:]}")


@dataclass
class Member:
    user: object
    key: str
    base_url: str = ""

    def call(self, method, path, **kwargs):
        """An API call as this user; `path` is under /v1/accounts/owner."""
        absolute = path.startswith(("/v1/", "/uploads/"))
        url = path if absolute else f"/v1/accounts/owner{path}"
        headers = {"Authorization": f"Bearer {self.key}", **kwargs.pop("headers", {})}
        return requests.request(
            method, self.base_url + url, headers=headers, timeout=60, **kwargs
        )


@dataclass
class Cast:
    account: object
    owner: Member
    teammate: Member
    viewer: Member
    outsider: Member


@pytest.fixture
def cast(django_user_model, request):
    """The owner's account `owner`, shared with a teammate (member) and a viewer."""
    base_url = ""
    if "live_portal" in request.fixturenames:
        base_url = request.getfixturevalue("live_portal")

    def member(username, role=None):
        user = django_user_model.objects.create_user(
            username=username, password="pw-123456"
        )
        personal_account(user)
        if role:
            Membership.objects.create(account=account, user=user, role=role)
        return Member(user, create_key(user, "tests")[1], base_url)

    owner = member("owner")
    account = personal_account(owner.user)
    return Cast(
        account,
        owner,
        member("teammate", Membership.ROLE_MEMBER),
        member("viewer", Membership.ROLE_VIEWER),
        member("outsider"),
    )
