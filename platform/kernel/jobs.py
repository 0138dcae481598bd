"""The one runner of long jobs (award batches, print runs, ledger imports, data audits): a job is a row
(``status``, ``error``, ``started_at``, ``heartbeat_at``…) that Celery runs under the district's
advisory lock, beating, and that is resumed when its worker died or its task was lost.

How a module uses it (copy ``modules/codes/print_runs.py``):
- declare a ``JobKind`` next to the job's own work: its lock name, model, the Celery task that runs
  one job (a one-line task calling ``run(KIND, job_id)``) and ``work(job)``, the job's own work;
- a service records the job QUEUED in its transaction and calls ``queue(task_name, job_id)``: the
  task is kicked by name once that commits (kernel.events.kick: never an import of ``tasks``, and
  a broker that is down leaves the job QUEUED, never FAILED);
- the module's periodic sweep (every minute, on its ModuleSpec) calls ``resume(KIND)``: running jobs
  whose beat stopped and queued jobs nobody took are queued again, and resume where their committed
  work stopped. Small jobs may call ``run(KIND, job_id)`` in the request.

``run`` takes the job's advisory try-lock (two runners never run one job at once: the second finds it
taken and returns None), skips a job that is finished, marks it running, keeps its heartbeat fresh
while ``work`` runs, and marks it FAILED with a message in words when ``work`` raises an Exception
(a BaseException, i.e. the process going away, leaves it RUNNING for the sweep to take over).

The heartbeat:
- A job marks itself running with ``heartbeat_at`` set, and runs its work inside ``beating(job)``:
  a thread of the worker writes ``heartbeat_at`` every HEARTBEAT_SECONDS on a connection of its own,
  so the beat goes on inside a long chunk or a long statement, and stops when the process dies.
- ``stale(qs)``: the jobs of ``qs`` that are running and whose beat is older than JOB_STALE_SECONDS.
- The module's periodic sweep (every minute, declared on its ModuleSpec) queues those again, after
  ``lock_free``: the per-job advisory try-lock (kernel.locks) that every run holds is what finally
  keeps a job from running twice, so a job that is alive but slow is never taken over.

A job model has ``status`` (kernel.models.JobStatus values), ``error``, ``started_at`` and
``heartbeat_at``; ``finished_at`` and ``updated_at`` are kept when it has them."""
from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import F, Model, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from kernel import audit, events
from kernel.locks import try_advisory_lock
from kernel.models import JobStatus

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 15.0  # a running job writes its heartbeat this often
JOB_STALE_SECONDS = 60  # a running job whose heartbeat is older than this is dead
QUEUED_STALE_SECONDS = 180  # a job still queued this long lost its task (the broker was down): queue it again


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


# --- the runner ---------------------------------------------------------------------------------------

def _failed(exc: BaseException) -> str:
    return f"出错了，已记录。Something went wrong and it has been logged ({type(exc).__name__})."


@dataclass(frozen=True)
class JobKind:
    """One kind of job. ``work(job)`` is the job's own work, run with the job marked running and
    beating; it finishes the job (status DONE) in its last transaction. It must be safe to run again
    after a crash: it resumes from what it committed."""

    lock: str  # the advisory lock's name; with the job's id it names one job in one district
    model: type[Model]
    task: str  # the Celery task that runs one job: ``task(job_id)`` -> ``run(KIND, job_id)``
    work: Callable[[Model], object]
    failure: Callable[[BaseException], str] = _failed  # the words a failed job shows (no exception text)
    failed_action: str = ""  # an audit action recorded when a job fails ("" none)
    queued_since: str = "updated_at"  # the field that tells how long a queued job has waited

    def has(self, name: str) -> bool:
        return any(f.name == name for f in self.model._meta.concrete_fields)


def queue(task_name: str, job_id: int) -> None:
    """Run job ``job_id`` in a worker once the caller's transaction commits (at once outside one). The
    caller has recorded the job QUEUED in that transaction. Never raises for the broker: a job whose
    kick is lost stays QUEUED and the module's sweep (``resume``) queues it again."""
    transaction.on_commit(lambda: events.kick(task_name, args=(job_id,)))


def run(kind: JobKind, job_id: int):
    """Run job ``job_id`` of ``kind`` here, once: returns the job as it is afterwards, the job untouched
    when it is finished (DONE, FAILED or any status but QUEUED and RUNNING), or None when another
    runner holds it."""
    with try_advisory_lock(kind.lock, job_id) as got:
        if not got:
            log.info("job already running elsewhere", extra={"job": f"{kind.lock}:{job_id}"})
            return None
        job = kind.model.objects.filter(pk=job_id).first()
        if job is None or job.status not in (JobStatus.QUEUED, JobStatus.RUNNING):
            return job
        _mark_running(kind, job)
        try:
            with beating(job):
                kind.work(job)
        except Exception as exc:
            log.exception("job failed", extra={"job": f"{kind.lock}:{job_id}"})
            fail(kind, job, kind.failure(exc))
        return kind.model.objects.get(pk=job_id)


def _mark_running(kind: JobKind, job) -> None:
    now = timezone.now()
    fields = {"status": JobStatus.RUNNING.value, "error": "", "heartbeat_at": now,
              "started_at": Coalesce(F("started_at"), now)}
    if kind.has("finished_at"):
        fields["finished_at"] = None
    if kind.has("updated_at"):
        fields["updated_at"] = now
    kind.model.objects.filter(pk=job.pk).update(**fields)
    job.status, job.error, job.heartbeat_at = JobStatus.RUNNING.value, "", now
    job.started_at = job.started_at or now


def fail(kind: JobKind, job, message: str) -> None:
    """Mark ``job`` FAILED with ``message`` (unless it finished meanwhile)."""
    now = timezone.now()
    fields = {"status": JobStatus.FAILED.value, "error": message[:2000]}
    for name in ("finished_at", "updated_at"):
        if kind.has(name):
            fields[name] = now
    with transaction.atomic():
        changed = kind.model.objects.filter(pk=job.pk).exclude(status=JobStatus.DONE.value).update(**fields)
        if changed and kind.failed_action:
            audit.record(actor=None, action=kind.failed_action, target=job, after={"error": message[:200]})


def to_resume(kind: JobKind, *, stale_seconds: float | None = None, queued_seconds: float | None = None,
              limit: int = 100) -> list[int]:
    """Jobs of ``kind`` that nobody runs although they should be: running ones whose heartbeat is older
    than ``stale_seconds`` (JOB_STALE_SECONDS: their worker died) and queued ones untouched for
    ``queued_seconds`` (QUEUED_STALE_SECONDS: their task was lost), whose lock is free."""
    qs = kind.model.objects.all()
    cutoff = timezone.now() - dt.timedelta(seconds=QUEUED_STALE_SECONDS if queued_seconds is None else queued_seconds)
    queued = (qs.filter(status=JobStatus.QUEUED.value, **{f"{kind.queued_since}__lte": cutoff})
              .order_by("pk").values_list("pk", flat=True)[:limit])
    return sorted({*dead(qs, kind.lock, stale_seconds), *(pk for pk in queued if lock_free(kind.lock, pk))})


def resume(kind: JobKind, **when) -> list[int]:
    """The sweep: queue again every job of ``kind`` that ``to_resume`` finds. Returns their ids."""
    found = to_resume(kind, **when)
    for pk in found:
        events.kick(kind.task, args=(pk,))
    return found
