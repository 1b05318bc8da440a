import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from dpo_portal.admin_user import ensure_admin
from dpo_portal.local_redis import start_local_redis
from dpo_portal.processes import stop_process

QUEUES = ["default", "training", "inference"]


class Command(BaseCommand):
    help = (
        "Serve the portal on one machine: a local Redis when none answers, the web "
        "server and one RQ worker per queue. Ctrl-C stops everything it started."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("DPO_HOST", "127.0.0.1"))
        parser.add_argument(
            "--port", type=int, default=int(os.environ.get("DPO_PORT", 8000))
        )

    def handle(self, *args, host, port, **options):
        self.children = []
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:
            self._start(host, port)
            self._watch()
        except KeyboardInterrupt:
            pass
        finally:
            self._stop()

    def _start(self, host, port):
        redis_process = start_local_redis(settings.REDIS_URL, settings.DATA_DIR)
        if redis_process:
            self.children.append(("redis", redis_process))
            self.stdout.write(f"Started a local Redis for {settings.REDIS_URL}.")

        self._ensure_admin()
        manage = [sys.executable, "manage.py"]
        web = [sys.executable, "-m", "gunicorn", "dpo_portal.wsgi:application"]
        web += ["--bind", f"{host}:{port}", "--workers", "2", "--threads", "4"]
        web += ["--timeout", "120", "--access-logfile", "-", "--log-level", "warning"]
        # gunicorn 27 otherwise opens one control socket per user, shared by every
        # portal this user runs on the machine.
        web += ["--no-control-socket"]
        self._spawn("web", web)
        for queue in QUEUES:
            self._spawn(f"worker {queue}", manage + ["rqworker", queue])

        self.stdout.write(
            self.style.SUCCESS(f"\nThe portal is at http://{host}:{port}/")
            + f"\nAdmin panel: http://{host}:{port}/admin/ · Ctrl-C stops everything.\n"
        )

    def _spawn(self, name, command):
        self.children.append((name, subprocess.Popen(command, cwd=settings.BASE_DIR)))

    def _watch(self):
        while True:
            for name, process in self.children:
                if process.poll() is not None:
                    self.stderr.write(
                        f"The {name} process exited ({process.returncode}); stopping."
                    )
                    return
            time.sleep(1)

    def _stop(self):
        for _, process in reversed(self.children):
            stop_process(process)
        self.stdout.write("Stopped.")

    def _ensure_admin(self):
        _, created = ensure_admin(
            lambda text: self.stdout.write(self.style.WARNING(text))
        )
        if not created:
            self.stdout.write(
                "Sign in with your admin user (created on the first run)."
            )
