"""`make run`: a Celery worker (with beat) in the background and the web server in front."""
from __future__ import annotations

import atexit
import os
import signal
import subprocess
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the web server on 0.0.0.0:PORT with a Celery worker and beat alongside."

    def add_arguments(self, parser):
        parser.add_argument("--port", default="8000")
        parser.add_argument("--no-worker", action="store_true")

    def handle(self, *args, **o):
        if not o["no_worker"]:
            schedule = settings.RUN_DIR / "celerybeat-schedule"
            worker = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "config", "worker", "-B", "--loglevel=INFO",
                 "--concurrency=2", "-Q", settings.CELERY_TASK_DEFAULT_QUEUE, "-s", str(schedule)],
                env={**os.environ, "PYTHONPATH": f"{settings.BASE_DIR}{os.pathsep}{settings.BASE_DIR / 'platform'}"},
                cwd=settings.BASE_DIR)

            def stop():
                if worker.poll() is None:
                    worker.send_signal(signal.SIGTERM)
                    try:
                        worker.wait(10)
                    except subprocess.TimeoutExpired:
                        worker.kill()

            atexit.register(stop)
            # `kill` (SIGTERM) must stop the worker too: turn it into a normal exit so atexit runs.
            signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
            self.stdout.write(f"Celery worker started (pid {worker.pid}); broker {settings.CELERY_BROKER_URL}")
        call_command("runserver", f"0.0.0.0:{o['port']}", use_reloader=False)
