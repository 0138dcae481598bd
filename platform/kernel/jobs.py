"""Long jobs that run in Celery (award batches, print runs, ledger imports, data audits): a running
job beats, and a job whose beat stopped is taken over.

- A job marks itself running with ``heartbeat_at`` set, and runs its work inside ``beating(job)``:
  a thread of the worker writes ``heartbeat_at`` every HEARTBEAT_SECONDS on a connection of its own,
  so the beat goes on inside a long chunk or a long statement, and stops when the process dies.
- ``stale(qs)``: the jobs of ``qs`` that are running and whose beat is older than JOB_STALE_SECONDS.
- The module's periodic sweep (every minute, declared on its ModuleSpec) queues those again, after
  ``lock_free``: the per-job advisory try-lock (kernel.locks) that every run holds is what finally
  keeps a job from running twice, so a job that is alive but slow is never taken over.

A job model has ``status`` (kernel.models.JobStatus values), ``started_at`` and ``heartbeat_at``."""
from __future__ import annotations

import datetime as dt
import logging
import threading
from contextlib import contextmanager

from django.db import connection
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from kernel.locks import try_advisory_lock
from kernel.models import JobStatus

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 15.0  # a running job writes its heartbeat this often
JOB_STALE_SECONDS = 60  # a running job whose heartbeat is older than this is dead


def heartbeat(job) -> bool:
    """Note that ``job`` is alive now, on the current connection (in its own statement; a row locked by
    the job's own open transaction is skipped: that transaction is proof of life enough). Returns
    whether the beat was written."""
    table = connection.ops.quote_name(type(job)._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET heartbeat_at = now() WHERE id = ("  # noqa: S608 - table from _meta
            f"SELECT id FROM {table} WHERE id = %s AND status = %s FOR UPDATE SKIP LOCKED)",
            [job.pk, JobStatus.RUNNING.value])
        return cursor.rowcount == 1


class _Beat(threading.Thread):
    def __init__(self, job, schema: str, every: float):
        super().__init__(name=f"heartbeat-{type(job).__name__}-{job.pk}", daemon=True)
        self.job, self.schema, self.every = job, schema, every
        self.stopped = threading.Event()

    def run(self) -> None:
        from django.db import connection as own  # this thread's connection, not the job's

        try:
            while not self.stopped.wait(self.every):
                try:
                    own.set_schema(self.schema)
                    heartbeat(self.job)
                except Exception:  # noqa: BLE001 - a missed beat is not the job's failure
                    log.warning("job heartbeat not written", extra={"job": f"{type(self.job).__name__}:{self.job.pk}"},
                                exc_info=True)
                    own.close()
        finally:
            own.close()


@contextmanager
def beating(job, *, every: float | None = None):
    """Keep ``job``'s heartbeat fresh while the block runs (the job is already marked running)."""
    beat = _Beat(job, connection.schema_name, HEARTBEAT_SECONDS if every is None else every)
    beat.start()
    try:
        yield
    finally:
        beat.stopped.set()
        beat.join(timeout=5)


def stale(qs: QuerySet, seconds: float | None = None) -> QuerySet:
    """Running jobs of ``qs`` whose heartbeat (or, never having beaten, start) is older than
    ``seconds`` (JOB_STALE_SECONDS)."""
    cutoff = timezone.now() - dt.timedelta(seconds=JOB_STALE_SECONDS if seconds is None else seconds)
    return (qs.filter(status=JobStatus.RUNNING.value)
            .alias(_beat=Coalesce(F("heartbeat_at"), F("started_at")))
            .filter(Q(_beat__lte=cutoff) | Q(_beat__isnull=True)))


def lock_free(*parts) -> bool:
    """Nobody holds the job's advisory lock (kernel.locks) now: nobody is running it."""
    with try_advisory_lock(*parts) as free:
        return free


def dead(qs: QuerySet, lock: str, seconds: float | None = None) -> list[int]:
    """Ids of the jobs of ``qs`` that are stale and whose advisory lock ``(lock, id)`` is free."""
    return [pk for pk in stale(qs, seconds).values_list("pk", flat=True) if lock_free(lock, pk)]
