"""Run the job reconciler once, or every few seconds with --loop."""

import time

from django.conf import settings
from django.core.management.base import BaseCommand

from jobs_app.reconcile import reconcile


class Command(BaseCommand):
    help = (
        "Recover jobs whose worker was lost and enqueue PENDING jobs that Redis "
        "does not hold. Workers run this themselves; run it with --loop where no "
        "worker runs all the time."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--loop", action="store_true", help="Keep running; Ctrl-C stops it."
        )
        parser.add_argument(
            "--every",
            type=float,
            default=settings.DPO_RECONCILE_SECONDS,
            help="Seconds between passes with --loop (default DPO_RECONCILE_SECONDS).",
        )

    def handle(self, *args, loop, every, **options):
        while True:
            outcome = reconcile()
            self.stdout.write(f"reconcile_jobs: {outcome}")
            if not loop:
                return
            time.sleep(every)
