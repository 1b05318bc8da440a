"""The web side of serving, and the Redis keys it shares with the serving process.

One serving process per base model runs in an `inference` worker (see serving.py).
The web process talks to it through Redis only:

- `inference:base:<pk>:requests`, a list: the web pushes JSON messages, `sync`
  (deployments changed: load or drop adapters) or `chat` (messages, sampling, a
  request id); the server pops them one at a time.
- `inference:reply:<request id>`, a list: the server pushes the answer as it is
  made, `delta` events with new text, then one `end` (counts, timings) or `error`.
- `inference:base:<pk>:server`: the serving process's token with a short expiry it
  keeps refreshing (its heartbeat); `queued` while a server job waits in the queue.
- `inference:base:<pk>:status`: what the server holds (device, adapters), for pages.
"""

import json
import time
import uuid

import django_rq
from django.conf import settings

QUEUE = "inference"
QUEUED = "queued"
QUEUED_TTL = 600  # a queued server job that no worker picks up is enqueued again
SERVER_TTL = 30  # seconds a server stays "alive" without refreshing its heartbeat
REPLY_TTL = 300


class NotServing(Exception):
    """No serving process answers for this model."""


class ReplyTimeout(Exception):
    """The serving process did not answer in time."""


def connection():
    return django_rq.get_connection(QUEUE)


def requests_key(base_pk):
    return f"inference:base:{base_pk}:requests"


def server_key(base_pk):
    return f"inference:base:{base_pk}:server"


def status_key(base_pk):
    return f"inference:base:{base_pk}:status"


def reply_key(request_id):
    return f"inference:reply:{request_id}"


def adapter_name(model):
    """The name an adapter has inside the serving process (PEFT's adapter_name)."""
    return f"model-{model.pk}"


def ensure_server(base):
    """Enqueue a serving process for `base` unless one runs or waits in the queue."""
    if not connection().set(server_key(base.pk), QUEUED, nx=True, ex=QUEUED_TTL):
        return False
    django_rq.get_queue(QUEUE).enqueue("models_app.tasks.serve_base", base.pk)
    return True


def nudge(base):
    """Tell the serving process that deployments changed."""
    connection().rpush(requests_key(base.pk), json.dumps({"type": "sync"}))


def server_status(base):
    """What the serving process reports about itself, or None when none runs."""
    raw = connection().get(status_key(base.pk))
    return json.loads(raw) if raw else None


def is_serving(base):
    token = connection().get(server_key(base.pk))
    return token is not None and token.decode() != QUEUED


def chat(base, adapter, messages, sampling, timeout=None):
    """Send one chat to the serving process; return an iterator of its reply events.

    `adapter` is an adapter_name(), or None for the base model itself. Raises
    NotServing at once when no server runs; the last event is `end` or `error`.
    """
    if not is_serving(base):
        raise NotServing(f"No inference worker serves {base.name} now.")
    timeout = timeout or settings.DPO_INFERENCE_TIMEOUT

    request_id = uuid.uuid4().hex
    message = {
        "type": "chat",
        "id": request_id,
        "adapter": adapter,
        "messages": messages,
        "sampling": sampling,
        # A request nobody waits for any more is skipped by the server.
        "expires": time.time() + timeout,
    }
    connection().rpush(requests_key(base.pk), json.dumps(message))
    return _replies(base, request_id, timeout)


def _replies(base, request_id, timeout):
    conn = connection()
    while True:
        popped = conn.blpop([reply_key(request_id)], timeout=timeout)
        if popped is None:
            raise ReplyTimeout(
                f"The inference worker for {base.name} did not answer in {timeout} s."
            )
        event = json.loads(popped[1])
        yield event
        if event["type"] in ("end", "error"):
            return
