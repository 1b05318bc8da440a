"""A real portal process for tests that need real HTTP: tus clients, concurrent
requests, a browser, the server's own memory.

`portal_server` runs `manage.py runserver --noreload` (one process, a thread per
request) on a free loopback port, against the test database and the tests' Redis
database, and stops it afterwards. Tests that use it need
`django_db(transaction=True)`, so that what they write is committed and the server
sees it.
"""

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.db import connection

from tests.ports import free_port

PASSWORD = "pw-123456"


@dataclass
class Portal:
    url: str
    process: subprocess.Popen

    def peak_rss_kib(self):
        """The server process's peak resident set (VmHWM), in KiB."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        line = next(line for line in status.splitlines() if line.startswith("VmHWM"))
        return int(line.split()[1])

    def signed_in(self, username):
        """A requests session signed in through the login form, as a browser is."""
        session = requests.Session()
        session.get(f"{self.url}/login/", timeout=30)
        answer = session.post(
            f"{self.url}/login/",
            data={
                "username": username,
                "password": PASSWORD,
                "csrfmiddlewaretoken": session.cookies["csrftoken"],
            },
            timeout=30,
        )
        assert "sessionid" in session.cookies, answer.text[:500]
        return session


def session_headers(session):
    """Headers that carry a signed-in session to a client that keeps no cookies."""
    cookies = "; ".join(f"{name}={value}" for name, value in session.cookies.items())
    return {"Cookie": cookies, "X-CSRFToken": session.cookies["csrftoken"]}


@pytest.fixture
def portal_server(request, transactional_db, redis_queues):
    """The server; `@pytest.mark.portal_env(NAME=value)` sets its environment."""
    port = free_port()
    env = dict(os.environ)
    marker = request.node.get_closest_marker("portal_env")
    env.update(marker.kwargs if marker else {})
    env["DJANGO_SETTINGS_MODULE"] = "dpo_portal.test_settings"
    env["DATABASE_URL"] = f"sqlite:///{connection.settings_dict['NAME']}"
    env["REDIS_URL"] = settings.REDIS_URL
    env["PYTHONUNBUFFERED"] = "1"
    log = open(settings.DATA_DIR / f"portal-{port}.log", "w")
    process = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "runserver",
            "--noreload",
            "--skip-checks",
            f"127.0.0.1:{port}",
        ],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    portal = Portal(url=f"http://127.0.0.1:{port}", process=process)
    try:
        _wait_until_up(portal)
        yield portal
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _wait_until_up(portal, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if portal.process.poll() is not None:
            raise RuntimeError("the portal server exited; see data/test/portal-*.log")
        try:
            requests.get(f"{portal.url}/login/", timeout=5)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    raise RuntimeError(f"the portal server did not answer within {seconds} s")
