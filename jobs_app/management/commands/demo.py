"""The whole flow without a browser: dataset, validation, a DPO job on a real worker."""

import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from datasets_app.models import Dataset
from datasets_app.services import create_dataset, take_file
from dpo_portal.accounts import personal_account
from dpo_portal.admin_user import ensure_admin
from dpo_portal.ids import slug_for_account
from dpo_portal.local_redis import start_local_redis
from dpo_portal.processes import stop_process
from jobs_app import states
from jobs_app.base_models import DEFAULT_MODEL_ID
from jobs_app.models import LanguageModel
from jobs_app.params import DpoParams
from jobs_app.services import create_job

DEFAULT_FILE = Path(settings.BASE_DIR).parent / "shared" / "data" / "demo_train.jsonl"


class Command(BaseCommand):
    help = (
        "Create a dataset from a JSONL file through the wizard's code path, validate "
        "it in a worker, train a DPO adapter on the default model in a real RQ worker, "
        "and print progress until the job ends."
    )

    def add_arguments(self, parser):
        parser.add_argument("--file", default=str(DEFAULT_FILE))
        parser.add_argument("--epochs", type=int, default=1)
        parser.add_argument("--max-context-length", type=int, default=512)

    def handle(self, *args, file, epochs, max_context_length, **options):
        source = Path(file).resolve()
        if not source.is_file():
            raise CommandError(f"{source} is not a readable file.")
        base = LanguageModel.objects.filter(
            model_id=DEFAULT_MODEL_ID, account=None
        ).first()
        if base is None:
            raise CommandError(
                "The default base model is missing: run `manage.py prepare_base_model`."
            )

        # A plain SIGTERM would skip the clean-up below and leave the worker training.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
        started = time.monotonic()
        redis_process = start_local_redis(settings.REDIS_URL, settings.DATA_DIR)
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "rqworker", "training", "default"],
            cwd=settings.BASE_DIR,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            dataset = self._dataset(source)
            # The demo favours speed over memory: without gradient checkpointing a
            # step is about a quarter faster, and one job fits a machine this size.
            params = DpoParams(
                epochs=epochs,
                max_context_length=max_context_length,
                gradient_checkpointing=False,
            )
            job = self._train(dataset, base, params)
        finally:
            stop_process(worker)
            if redis_process:
                redis_process.terminate()

        minutes = (time.monotonic() - started) / 60
        self.stdout.write(f"\nFinal state: {job.state} after {minutes:.1f} min")
        if job.state != states.COMPLETED:
            raise CommandError(job.failure_reason or f"The job ended {job.state}.")
        self.stdout.write(f"Adapter: {job.adapter_path}")
        self.stdout.write(f"Output model: {job.fine_tuned_model.name}")

    def _dataset(self, source):
        # The admin's account, so the trained model is there to try after signing in.
        user, _ = ensure_admin(self.stdout.write)
        account = personal_account(user)
        dataset_id = f"{slug_for_account(source.stem)[:40]}-{int(time.time())}"
        dataset = create_dataset(account, dataset_id, source.name, user=user)

        # The same hand-over a finished upload makes: a complete file in the
        # uploads folder, moved into the dataset and validated by the worker.
        staged = settings.DATA_DIR / "uploads" / f"demo-{dataset_id}.part"
        staged.parent.mkdir(parents=True, exist_ok=True)
        staged.write_bytes(source.read_bytes())
        take_file(dataset, staged, source.name)
        self.stdout.write(f"Dataset {dataset.name}: validating {source.name}")

        while dataset.state == Dataset.STATE_VALIDATING:
            time.sleep(0.5)
            dataset.refresh_from_db()
        report = dataset.report or {}
        if dataset.state != Dataset.STATE_READY:
            for error in report.get("errors", [])[:20]:
                self.stderr.write(
                    f"  line {error['line']}: {error['path']}: {error['message']}"
                )
            raise CommandError(f"Dataset {dataset.dataset_id} is {dataset.state}.")
        self.stdout.write(
            f"Dataset READY: {dataset.example_count} examples, "
            f"{report.get('warning_count', 0)} warnings"
        )
        return dataset

    def _train(self, dataset, base, params):
        output_id = f"{dataset.dataset_id[:50]}-dpo"
        job = create_job(dataset.account, dataset, base, output_id, params)
        self.stdout.write(f"Job {job.name} queued on 'training' (base {base.model_id})")

        shown = None
        while True:
            time.sleep(1)
            job.refresh_from_db()
            line = self._progress_line(job)
            if line != shown:
                self.stdout.write(line)
                shown = line
            if job.state in states.FINAL:
                return job

    def _progress_line(self, job):
        metrics = job.latest_metrics
        parts = [states.short(job.state), f"step {job.step}/{job.total_steps or '?'}"]
        parts.append(f"epoch {job.epoch:.2f}")
        for name in ["loss", "rewards/margins", "rewards/accuracies"]:
            if name in metrics:
                parts.append(f"{name} {metrics[name]:.4f}")
        if job.eta_seconds is not None and job.state == states.RUNNING:
            parts.append(f"ETA {job.eta_seconds} s")
        return " · ".join(parts)
