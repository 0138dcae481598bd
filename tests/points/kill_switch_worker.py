"""A real Celery worker whose points batches die on purpose: with POINTS_KILL_AFTER_CHUNKS=N, the
process SIGKILLs itself inside chunk N+1, after that chunk's INSERT and before its COMMIT — a worker
killed halfway, as the resume test needs. Without the variable it is an ordinary worker.

    python tests/points/kill_switch_worker.py worker --pool=solo -Q <queue> …
"""
import os
import signal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for entry in (str(ROOT), str(ROOT / "platform")):
    if entry not in sys.path:
        sys.path.insert(0, entry)

import django  # noqa: E402

from config.celery import app  # noqa: E402  (sets the settings module, finds the database)

django.setup()

KILL_AFTER = int(os.environ.get("POINTS_KILL_AFTER_CHUNKS") or 0)

if KILL_AFTER:
    from modules.points.batches import services as batches

    _real_chunk = batches._post_chunk
    _chunks: list[int] = []

    def _chunk_then_die(cursor, **kwargs):
        result = _real_chunk(cursor, **kwargs)
        _chunks.append(kwargs["hi"])
        if len(_chunks) > KILL_AFTER:
            print(f"[kill-switch] killing the worker inside chunk {len(_chunks)}", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    batches._post_chunk = _chunk_then_die

if __name__ == "__main__":
    app.worker_main(sys.argv[1:])
