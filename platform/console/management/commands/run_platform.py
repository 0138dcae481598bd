"""`make run`: a Celery worker and a Celery beat, each its own process, in the background, and the web
server in front. Beat is never embedded in the worker (`worker -B`): killing the worker's main process
would leave that beat running, and the next start would add a second one. Both children are stopped
when this command ends (normally, by Ctrl-C or by SIGTERM) and, on Linux, are sent SIGTERM by the
kernel if this process dies without cleaning up. Should a beat survive all the same, the beat lock
(config/beat.py) keeps the new one waiting instead of sending everything twice."""
from __future__ import annotations

import atexit
import os
import signal
import subprocess
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the parent (this command) dies (Linux prctl)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: atexit and the beat lock still hold
        pass


def start_celery(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", *args, "--loglevel=INFO"],
        env={**os.environ, "PYTHONPATH": f"{settings.BASE_DIR}{os.pathsep}{settings.BASE_DIR / 'platform'}"},
        cwd=settings.BASE_DIR, preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)


def stop(*procs: subprocess.Popen) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Command(BaseCommand):
    help = "Run the web server on 0.0.0.0:PORT with a Celery worker and a Celery beat alongside."

    def add_arguments(self, parser):
        parser.add_argument("--port", default="8000")
        parser.add_argument("--no-worker", action="store_true")

    def handle(self, *args, **o):
        if not o["no_worker"]:
            worker = start_celery("worker", "--concurrency=2", "-Q", settings.CELERY_TASK_DEFAULT_QUEUE)
            beat = start_celery("beat", "-s", str(settings.RUN_DIR / "celerybeat-schedule"))
            atexit.register(stop, worker, beat)
            # `kill` (SIGTERM) must stop them too: turn it into a normal exit so atexit runs.
            signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
            self.stdout.write(f"Celery worker (pid {worker.pid}) and beat (pid {beat.pid}) started; "
                              f"broker {settings.CELERY_BROKER_URL}")
        from console.demo_lan import allow_lan_host

        lan = allow_lan_host(settings.ALLOWED_HOSTS)  # phones on this network open the demo's printed codes
        if lan:
            self.stdout.write(f"Phones on this network: http://{lan}:{o['port']}/ (see seed_demo)")
        call_command("runserver", f"0.0.0.0:{o['port']}", use_reloader=False)
