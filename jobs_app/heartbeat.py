"""The work horse's heartbeat: a thread that says "still alive" while a job runs.

Model loading, the check of every pair and evaluation can each take minutes with
no training step in between, so the heartbeat cannot come from the step callback
alone. The thread writes heartbeat_at every DPO_HEARTBEAT_SECONDS and looks for a
cancel every second; the trainer callback asks it at every step.
"""

import logging
import threading
import time

from django import db
from django.conf import settings
from django.utils import timezone

from jobs_app import states
from jobs_app.models import DpoJob

log = logging.getLogger(__name__)


class Heartbeat:
    def __init__(self, job):
        self.job_pk = job.pk
        self._cancel = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dpo-heartbeat")

    def __enter__(self):
        self.beat()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=10)

    def cancel_asked(self):
        return self._cancel.is_set()

    def beat(self):
        DpoJob.objects.filter(pk=self.job_pk).update(heartbeat_at=timezone.now())

    def _run(self):
        last_beat = time.monotonic()
        try:
            while not self._stop.wait(1.0):
                state = (
                    DpoJob.objects.filter(pk=self.job_pk)
                    .values_list("state", flat=True)
                    .first()
                )
                if state == states.CANCELLING:
                    self._cancel.set()
                if time.monotonic() - last_beat >= settings.DPO_HEARTBEAT_SECONDS:
                    self.beat()
                    last_beat = time.monotonic()
        except Exception:
            log.exception("job %s: the heartbeat thread stopped", self.job_pk)
        finally:
            db.connections.close_all()
