"""A real `celery beat` (the platform's scheduler, config.beat.SingleBeatScheduler) with a test
schedule: one task every half second into the queue BEAT_TEST_QUEUE, which no worker reads. Each task
it sends is printed as ``[sent] <task>``, so a test counts what each beat sent.

    python tests/platform_tests/single_beat_process.py beat -s <schedule file> …
"""
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for entry in (str(ROOT), str(ROOT / "platform")):
    if entry not in sys.path:
        sys.path.insert(0, entry)

from celery.signals import after_task_publish  # noqa: E402

from config.celery import app  # noqa: E402  (sets the settings module, finds the database)

app.conf.beat_schedule = {"tick": {"task": "tests.beat.tick", "schedule": 0.5,
                                   "options": {"queue": os.environ["BEAT_TEST_QUEUE"]}}}


@after_task_publish.connect
def _count(sender=None, **kwargs):
    print(f"[sent] {sender}", flush=True)


if __name__ == "__main__":
    app.start(sys.argv[1:])
