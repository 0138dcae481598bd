"""Only one beat sends. Two real `celery beat` processes on the test database: the one holding the
beat lock (a PostgreSQL advisory lock on its own session) sends every periodic task, the other logs
who holds it and sends nothing; kill the holder and the other takes over."""
import os
import signal
import subprocess
import sys

import pytest
from django.conf import settings

from tests.conftest import ROOT, _test_database_url, wait_for

QUEUE = f"{settings.CELERY_TASK_DEFAULT_QUEUE}-beat-test"


def start_beat(name: str) -> tuple[subprocess.Popen, object]:
    env = {**os.environ, "DATABASE_URL": _test_database_url(), "MASHANG_TESTING": "1",
           "MASHANG_RUN_DIR": str(settings.RUN_DIR), "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'platform'}",
           "BEAT_TEST_QUEUE": QUEUE}
    schedule = settings.RUN_DIR / f"beat-{name}-schedule"
    for leftover in settings.RUN_DIR.glob(f"beat-{name}-schedule*"):
        leftover.unlink()
    log = open(settings.RUN_DIR / f"beat-{name}.log", "w")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "platform_tests" / "single_beat_process.py"), "beat",
                             "--loglevel=INFO", "-s", str(schedule)],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    return proc, log


def sent(name: str) -> int:
    return (settings.RUN_DIR / f"beat-{name}.log").read_text(errors="replace").count("[sent] tests.beat.tick")


def purge() -> None:
    from config.celery import app

    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(QUEUE)


@pytest.mark.worker
def test_only_the_beat_holding_the_lock_sends_and_the_other_takes_over(django_db_blocker):
    with django_db_blocker.unblock():
        first, first_log = start_beat("first")
        assert wait_for(lambda: sent("first") >= 2, timeout=60), (settings.RUN_DIR / "beat-first.log").read_text()
        second, second_log = start_beat("second")
        try:
            log2 = settings.RUN_DIR / "beat-second.log"
            assert wait_for(lambda: "waits to take over" in log2.read_text(errors="replace"), timeout=60), \
                log2.read_text()
            before = sent("first")
            assert wait_for(lambda: sent("first") >= before + 6, timeout=30)  # 3 s and more of ticks
            assert sent("second") == 0 and second.poll() is None  # the second beat sent nothing
            assert "mashang-beat" in log2.read_text()  # and said which beat holds the schedule

            first.send_signal(signal.SIGKILL)  # dies without a word: PostgreSQL drops its session lock
            first.wait(10)
            assert wait_for(lambda: sent("second") >= 2, timeout=30), log2.read_text()
            assert "this beat sends the periodic tasks" in log2.read_text()
        finally:
            for proc, log in ((first, first_log), (second, second_log)):
                if proc.poll() is None:
                    proc.terminate()
                    try:
                        proc.wait(10)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                log.close()
            purge()
