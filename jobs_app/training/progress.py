"""The trainer callbacks: progress back to the database, checkpoints at epoch ends."""

import logging
import math
import time

from django.conf import settings
from django.utils import timezone
from transformers import TrainerCallback

from jobs_app.models import DpoJob, JobMetric

log = logging.getLogger(__name__)


class ProgressCallback(TrainerCallback):
    """Writes step, epoch, tokens, heartbeat and ETA (throttled) and every logged
    metric; stops the run at the end of a step once the job is being cancelled,
    saving a checkpoint there so the adapter trained so far is kept."""

    def __init__(self, job, heartbeat, every_seconds=2.0):
        self.job = job
        self.heartbeat = heartbeat
        # Tests slow each step down so a worker can be killed mid-run.
        self.step_delay = getattr(settings, "DPO_STEP_DELAY_SECONDS", 0)
        self.every_seconds = every_seconds
        self.last_write = 0.0
        self.started = None
        self.start_step = 0
        self.latest = {}

    def on_train_begin(self, args, state, control, **kwargs):
        self.started = time.monotonic()
        self.start_step = state.global_step
        DpoJob.objects.filter(pk=self.job.pk).update(
            total_steps=state.max_steps, heartbeat_at=timezone.now()
        )

    def on_step_end(self, args, state, control, **kwargs):
        if self.step_delay:
            time.sleep(self.step_delay)
        cancelling = self.heartbeat.cancel_asked()
        if cancelling:
            log.info(
                "job %s: cancel asked; stopping after step %d",
                self.job.job_id,
                state.global_step,
            )
            control.should_training_stop = True
            control.should_save = True
        final = cancelling or state.global_step >= state.max_steps
        if not final and time.monotonic() - self.last_write < self.every_seconds:
            return
        self.last_write = time.monotonic()

        DpoJob.objects.filter(pk=self.job.pk).update(
            step=state.global_step,
            total_steps=state.max_steps,
            epoch=state.epoch or 0,
            tokens_seen=state.num_input_tokens_seen or 0,
            eta_seconds=self._eta(state),
            heartbeat_at=timezone.now(),
        )

    def on_log(self, args, state, control, logs=None, **kwargs):
        values = {
            name: value
            for name, value in (logs or {}).items()
            if isinstance(value, int | float) and math.isfinite(value)
        }
        if not values:
            return
        JobMetric.objects.create(
            job=self.job, step=state.global_step, epoch=state.epoch or 0, values=values
        )
        # The run's closing summary (train_loss, train_runtime) joins the last
        # step's values instead of replacing them.
        self.latest.update(values)
        DpoJob.objects.filter(pk=self.job.pk).update(latest_metrics=self.latest)
        log.info(
            "job %s: step %d/%d, loss %s",
            self.job.job_id,
            state.global_step,
            state.max_steps,
            values.get("loss", "-"),
        )

    def _eta(self, state):
        done = state.global_step - self.start_step
        if done <= 0 or self.started is None:
            return None
        per_step = (time.monotonic() - self.started) / done
        return int(per_step * (state.max_steps - state.global_step))


class EpochCheckpointCallback(TrainerCallback):
    """A checkpoint at the end of every epoch, besides the every-N-steps ones.

    None at the run's last step, unless a cancel asks to keep it: the adapter is
    saved right after training, and a checkpoint there would only repeat it, with
    the optimizer's state besides, on disk and in time.
    """

    def __init__(self, heartbeat):
        self.heartbeat = heartbeat

    def on_step_end(self, args, state, control, **kwargs):
        self._none_at_the_end(state, control)

    def on_epoch_end(self, args, state, control, **kwargs):
        control.should_save = True
        self._none_at_the_end(state, control)

    def _none_at_the_end(self, state, control):
        if state.global_step >= state.max_steps and not self.heartbeat.cancel_asked():
            control.should_save = False
