"""A tus 1.0 client for dpoctl: chunked PATCHes, retries with backoff, and resume
from the server's offset, also in a later run (the upload URL is remembered in a
small state file until the upload completes)."""

import base64
import hashlib
import json
import os
import time
from pathlib import Path

import requests

from dpo_portal.cli.client import CliError

TUS_VERSION = "1.0.0"
RETRIES = 6


def state_file():
    root = os.environ.get("DPOCTL_STATE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "dpoctl"
    )
    return Path(root) / "uploads.json"


def upload_key(client, dataset_id, path):
    """Names one file for one dataset: a changed file never resumes an old upload."""
    info = os.stat(path)
    parts = [
        client.base_url,
        client.account,
        dataset_id,
        str(Path(path).resolve()),
        str(info.st_size),
        str(info.st_mtime_ns),
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


class Remembered:
    def __init__(self, path=None):
        self.path = path or state_file()

    def _read(self):
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}

    def get(self, key):
        return self._read().get(key)

    def put(self, key, url):
        entries = self._read()
        entries[key] = url
        self._write(entries)

    def forget(self, key):
        entries = self._read()
        if entries.pop(key, None) is not None:
            self._write(entries)

    def _write(self, entries):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(entries))
        os.replace(temporary, self.path)


def tus_metadata(values):
    return ",".join(
        f"{key} {base64.b64encode(str(value).encode()).decode()}"
        for key, value in values.items()
    )


class TusUpload:
    def __init__(self, client, endpoint, path, key, chunk_bytes=None, remembered=None):
        self.client = client
        self.endpoint = endpoint
        self.path = path
        self.key = key
        self.size = os.path.getsize(path)
        self.chunk_bytes = chunk_bytes or endpoint.get("chunkBytes") or 8 << 20
        self.remembered = remembered or Remembered()

    def run(self, on_progress):
        """Send the file; `on_progress(offset, size, resumed_from)` after each chunk."""
        url = self.remembered.get(self.key)
        offset = self._offset(url) if url else None
        if offset is None:
            url, offset = self._create(), 0
            self.remembered.put(self.key, url)
        resumed_from = offset
        on_progress(offset, self.size, resumed_from)

        with open(self.path, "rb") as file:
            while offset < self.size:
                file.seek(offset)
                chunk = file.read(self.chunk_bytes)
                offset = self._send(url, offset, chunk)
                on_progress(offset, self.size, resumed_from)
        self.remembered.forget(self.key)
        return resumed_from

    def _headers(self, **more):
        return {"Tus-Resumable": TUS_VERSION, **more}

    def _create(self):
        headers = self._headers(
            **{
                "Upload-Length": str(self.size),
                "Upload-Metadata": tus_metadata(self.endpoint["metadata"]),
            }
        )
        response = self._retried("POST", self.endpoint["uploadUrl"], headers=headers)
        if response.status_code != 201:
            raise _tus_error("could not start the upload", response)
        return response.headers["Location"]

    def _offset(self, url):
        """The server's offset for `url`, or None when it no longer knows it."""
        response = self._retried("HEAD", url, headers=self._headers())
        if response.status_code != 200:
            return None
        return int(response.headers["Upload-Offset"])

    def _send(self, url, offset, chunk):
        """PATCH one chunk; the server's new offset. After a failure, the chunk may
        have partly arrived, so the next try starts from the server's offset."""
        headers = self._headers(
            **{
                "Upload-Offset": str(offset),
                "Content-Type": "application/offset+octet-stream",
            }
        )
        for attempt in range(RETRIES):
            problem = None
            try:
                response = self.client.session.patch(
                    url, data=chunk, headers=headers, timeout=self.client.timeout
                )
            except requests.RequestException as exc:
                problem = str(exc)
            else:
                if response.status_code in (204, 409) and (
                    "Upload-Offset" in response.headers
                ):
                    # 409 with an offset: the server has other bytes; go on from its.
                    return int(response.headers["Upload-Offset"])
                if response.status_code < 500 and response.status_code != 409:
                    raise _tus_error("the upload was refused", response)
                problem = f"HTTP {response.status_code}"
            _pause(attempt)
            server = self._offset(url)
            if server is None:
                raise CliError("Upload: the server no longer knows this upload.")
            if server != offset:
                return server
        raise CliError(f"Upload failed after {RETRIES} tries: {problem}")

    def _retried(self, method, url, **kwargs):
        """A request retried with backoff while the network or the server fails."""
        for attempt in range(RETRIES):
            try:
                response = self.client.session.request(
                    method, url, timeout=self.client.timeout, **kwargs
                )
            except requests.RequestException as exc:
                problem = str(exc)
            else:
                if response.status_code < 500:
                    return response
                problem = f"HTTP {response.status_code}"
            _pause(attempt)
        raise CliError(f"Upload failed after {RETRIES} tries: {problem}")


def _pause(attempt):
    if attempt < RETRIES - 1:
        time.sleep(min(30, 0.5 * 2**attempt))


def _tus_error(what, response):
    try:
        message = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError, AttributeError):
        message = f"HTTP {response.status_code}"
    return CliError(f"Upload: {what}: {message}")
