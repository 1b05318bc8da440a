"""The serving process: one base model in memory, its deployed adapters on it,
chat requests answered one at a time from a Redis list (see inference.py).

It runs as a long RQ job on the `inference` queue, started when a model on this
base is deployed, and returns when no deployment on the base is left: the work
horse then exits and its memory goes back to the system.
"""

import json
import logging
import os
import socket
import time
import uuid

from django.db import close_old_connections
from django.db.models import Q
from django.utils import timezone

from jobs_app.models import LanguageModel
from jobs_app.tasks import failure_reason
from models_app import inference
from models_app.models import Deployment

log = logging.getLogger(__name__)

POLL_SECONDS = 1

# Delete the server key only while it is still ours.
RELEASE_SCRIPT = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('del', KEYS[1], KEYS[2])
end
"""


def serve(base_pk):
    base = LanguageModel.objects.get(pk=base_pk)
    server = Server(base)
    if not server.claim():
        log.info("%s is served by another process already", base.name)
        return

    try:
        server.load_base()
    except Exception as exc:
        log.exception("could not load %s for serving", base.name)
        server.fail_all(f"The base model could not be loaded: {failure_reason(exc)}")
        server.release()
        return

    log.info("serving %s on %s", base.name, server.engine.device)
    try:
        server.run()
    finally:
        server.release()
    log.info("stopped serving %s: no deployment left", base.name)


class Server:
    def __init__(self, base):
        self.base = base
        self.conn = inference.connection()
        self.token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.engine = None
        self.served = 0
        self.last_beat = 0.0

    def claim(self):
        current = self.conn.get(inference.server_key(self.base.pk))
        if current is not None and current.decode() != inference.QUEUED:
            return False
        self.beat()
        return True

    def beat(self, status=True):
        key = inference.server_key(self.base.pk)
        self.conn.set(key, self.token, ex=inference.SERVER_TTL)
        if status and self.engine is not None:
            report = {
                "server": self.token,
                "device": self.engine.device,
                "adapters": sorted(self.engine.adapters),
                "requests_served": self.served,
            }
            self.conn.set(
                inference.status_key(self.base.pk),
                json.dumps(report),
                ex=inference.SERVER_TTL,
            )
        self.last_beat = time.monotonic()

    def release(self):
        self.conn.eval(
            RELEASE_SCRIPT,
            2,
            inference.server_key(self.base.pk),
            inference.status_key(self.base.pk),
            self.token,
        )

    def load_base(self):
        from models_app.engine import Engine

        self.engine = Engine(self.base.path)

    def run(self):
        while True:
            close_old_connections()
            wanted = self.wanted()
            if not wanted:
                # A deployment made after the release finds no server key and
                # queues a new server; one made just before it is seen here, and
                # we stay unless a new server took over in between.
                self.release()
                if not self.wanted() or not self.claim():
                    return
                continue

            self.sync(wanted)
            popped = self.conn.blpop(
                [inference.requests_key(self.base.pk)], timeout=POLL_SECONDS
            )
            if popped:
                self.handle(json.loads(popped[1]))

    def wanted(self):
        return list(
            Deployment.objects.filter(state__in=Deployment.ACTIVE)
            .filter(Q(model=self.base) | Q(model__base=self.base))
            .select_related("model")
        )

    def sync(self, wanted):
        """Load the adapters of new deployments, drop those of ended ones."""
        names = {}
        for deployment in wanted:
            if deployment.model.kind == LanguageModel.KIND_FINE_TUNED:
                names[inference.adapter_name(deployment.model)] = deployment

        for name in sorted(self.engine.adapters - names.keys()):
            self.engine.drop_adapter(name)
            log.info("%s: dropped adapter %s", self.base.name, name)

        loaded = []
        for deployment in wanted:
            name = inference.adapter_name(deployment.model)
            if name in names and name not in self.engine.adapters:
                try:
                    self.engine.add_adapter(name, deployment.model.path)
                except Exception as exc:
                    log.exception("could not load %s", deployment.model.name)
                    self.fail(deployment, failure_reason(exc))
                    continue
                log.info("%s: loaded adapter %s", self.base.name, name)
            loaded.append(deployment)

        # The status names the adapters before any of them is called READY.
        self.beat()
        for deployment in loaded:
            self.mark_ready(deployment)

    def mark_ready(self, deployment):
        if deployment.state != Deployment.DEPLOYING:
            return
        Deployment.objects.filter(pk=deployment.pk, state=Deployment.DEPLOYING).update(
            state=Deployment.READY, ready_at=timezone.now()
        )

    def fail(self, deployment, reason):
        Deployment.objects.filter(pk=deployment.pk, state__in=Deployment.ACTIVE).update(
            state=Deployment.FAILED, failure_reason=reason, ended_at=timezone.now()
        )

    def fail_all(self, reason):
        for deployment in self.wanted():
            self.fail(deployment, reason)

    def handle(self, message):
        if message["type"] != "chat":
            return  # a sync nudge: the next loop turn reconciles
        if message["expires"] < time.time():
            log.info("skipping chat %s: its caller gave up", message["id"])
            return

        reply = inference.reply_key(message["id"])

        def send(event):
            self.conn.rpush(reply, json.dumps(event))
            self.conn.expire(reply, inference.REPLY_TTL)

        def on_text(piece):
            send({"type": "delta", "text": piece})
            # A long answer must not let the heartbeat lapse.
            if time.monotonic() - self.last_beat > inference.SERVER_TTL / 3:
                self.beat(status=False)

        try:
            adapter = message["adapter"]
            if adapter is not None and adapter not in self.engine.adapters:
                raise LookupError("The model is not deployed (any more).")
            counts = self.engine.generate(
                adapter, message["messages"], message["sampling"], on_text
            )
        except Exception as exc:
            log.exception("chat %s failed", message["id"])
            send({"type": "error", "message": failure_reason(exc)})
            return
        self.served += 1
        send({"type": "end", **counts})
