"""The RQ worker class the portal's workers use (settings.RQ["WORKER_CLASS"]).

It is RQ's forking worker with two additions:
- the reconciler (jobs_app/reconcile.py) runs once before the first job and then
  every DPO_RECONCILE_SECONDS in a thread of the worker's parent process, so any
  running worker notices lost jobs and unqueued PENDING jobs;
- it reports its own heartbeat to RQ every DPO_HEARTBEAT_SECONDS instead of RQ's
  default 30 s, so the reconciler can tell a silent worker within a minute.

Neither touches torch or CUDA: the parent process must not initialise CUDA
before forking the work horse.
"""

import logging
import threading

from django import db
from django.conf import settings
from rq.worker import Worker

from jobs_app.reconcile import reconcile

log = logging.getLogger(__name__)


class ReconcilingWorker(Worker):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("job_monitoring_interval", settings.DPO_HEARTBEAT_SECONDS)
        super().__init__(*args, **kwargs)
        self._stop_reconciling = threading.Event()

    def work(self, *args, **kwargs):
        reconcile_once()
        thread = threading.Thread(
            target=self._reconcile_loop, name="dpo-reconciler", daemon=True
        )
        thread.start()
        try:
            return super().work(*args, **kwargs)
        finally:
            self._stop_reconciling.set()

    def fork_work_horse(self, job, queue):
        # The horse must open its own database connection, not share the parent's.
        db.connections.close_all()
        return super().fork_work_horse(job, queue)

    def _reconcile_loop(self):
        while not self._stop_reconciling.wait(settings.DPO_RECONCILE_SECONDS):
            reconcile_once()


def reconcile_once():
    """A reconciler pass that never takes the worker down with it."""
    try:
        outcome = reconcile()
        if outcome.requeued or outcome.failed or outcome.enqueued or outcome.cancelled:
            log.info("reconciler: %s", outcome)
    except Exception:
        log.exception("reconciler pass failed")
    finally:
        # Connections are per thread; a pass leaves none open behind it.
        db.connections.close_all()
