"""Releases across every district: run ``migrate_schemas`` over every schema and record what happened.

``migrate_all`` (the management command) and a retry from the console both end in ``execute(run)``:

1. the shared apps first: ``migrate_schemas --shared`` (a run of kind "all"; a failure here stops
   the run, because district schemas may depend on it);
2. then each district schema (every District row but public, pool spares included) on its own:
   ``migrate_schemas --schema=<name>``, caught per schema, so one failed district never stops the
   others. django-tenants' own executors stop at the first failure (the standard one raises, the
   multiprocessing one's ``Pool.map`` re-raises), so the fan-out is ours, on django-tenants' own pool:
   ``--executor multiprocessing`` forks ``django_tenants.migration_executors.multiproc.get_pool()``
   (``TENANT_MULTIPROCESSING_MAX_PROCESSES`` workers, or ``processes``), ``--executor standard`` runs
   the schemas one after another in this process. Each schema's outcome (ok, or failed with the
   error in words), its seconds and its migration state afterwards are written as the results come in.

Two releases never run at once: each holds a PostgreSQL advisory lock on a connection of its own (so
forking the pool, which closes Django's connection first, does not drop it). A retry is a job of the
kernel job runner (``jobs.RELEASES``): ``retry_district`` records it QUEUED with the person's reason
and an audit entry, and a worker runs it.
"""
from __future__ import annotations

import functools
import logging
import time
from contextlib import contextmanager

from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kernel import audit, jobs
from kernel.errors import Conflict, DomainError
from kernel.models import JobStatus
from tenants.models import District
from tenants.releases import selectors
from tenants.releases.models import ReleaseOutcome, ReleaseRun
from tenants.services import require_reason

log = logging.getLogger(__name__)

RELEASE_TASK = "tenants.releases.tasks.run_release"
EXECUTORS = ("multiprocessing", "standard")
LOCK_NAME = "releases"


class ReleaseBusy(Conflict):
    code = "release_running"


def error_in_words(exc: BaseException) -> str:
    """What a failed schema shows: the exception's class and first line (a migration error names the
    object, e.g. 'column "x" of relation "y" already exists'). No personal data is in DDL errors."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:2000]


@contextmanager
def release_lock():
    """Yields True holding the one release lock (released on leaving), False when another release
    holds it. On a connection of its own: Django's is closed before the pool forks."""
    import hashlib

    import psycopg

    # kernel.locks.lock_key's naming ("<schema>:<name>"), in the public schema
    key = int.from_bytes(hashlib.blake2b(f"public:{LOCK_NAME}".encode(), digest_size=8).digest(), "big", signed=True)
    params = {k: v for k, v in connection.get_connection_params().items()
              if k in ("dbname", "user", "password", "host", "port", "sslmode", "options")}
    own = psycopg.connect(autocommit=True, **params)
    try:
        got = own.execute("SELECT pg_try_advisory_lock(%s)", [key]).fetchone()[0]
        yield got
    finally:
        own.close()  # ends the session: the lock goes with it


# --- one schema -------------------------------------------------------------------------------------

def migrate_schema(schema_name: str, verbosity: int = 0) -> dict:
    """``migrate_schemas --schema=<schema_name>`` here, caught: {schema, ok, error, seconds, started_at,
    finished_at}. What both executors run per schema (in a pool worker or in this process)."""
    started_at, started = timezone.now(), time.perf_counter()
    ok, error = True, ""
    try:
        call_command("migrate_schemas", schema_name=schema_name, executor="standard", interactive=False,
                     verbosity=verbosity)
    except BaseException as exc:  # noqa: BLE001 - a SystemExit/CommandError of one schema is its outcome
        if isinstance(exc, KeyboardInterrupt):
            raise
        ok, error = False, error_in_words(exc)
        log.warning("migration of schema %s failed: %s", schema_name, error)
        connection.close()  # a failed migration may leave the session mid-transaction
    connection.set_schema_to_public()
    return {"schema": schema_name, "ok": ok, "error": error, "seconds": time.perf_counter() - started,
            "started_at": started_at, "finished_at": timezone.now()}


def _in_pool_worker(verbosity: int, schema_name: str) -> dict:
    return migrate_schema(schema_name, verbosity)


# --- a run --------------------------------------------------------------------------------------------

def district_schemas() -> list[str]:
    """Every schema ``migrate_schemas`` migrates: each District row but the public one, spares included
    (districts first, then spares, each by name)."""
    connection.set_schema_to_public()
    rows = District.objects.exclude(schema_name="public").values_list("schema_name", "status")
    return [s for s, _ in sorted(rows, key=lambda r: (r[1] == District.Status.SPARE, r[0]))]


def start_all(*, executor: str = "multiprocessing", processes: int | None = None, actor=None) -> ReleaseRun:
    """Record a run over every schema (RUNNING: ``migrate_all`` runs it at once, in the foreground)."""
    if executor not in EXECUTORS:
        raise DomainError(_("Unknown executor %(e)s.") % {"e": executor}, fields={"executor": [executor]})
    from django.conf import settings

    processes = processes or getattr(settings, "TENANT_MULTIPROCESSING_MAX_PROCESSES", 2)
    connection.set_schema_to_public()
    with transaction.atomic():
        run = ReleaseRun.objects.create(kind=ReleaseRun.Kind.ALL, executor=executor,
                                        processes=processes if executor == "multiprocessing" else 1,
                                        actor=actor if getattr(actor, "pk", None) else None,
                                        code_leaves=selectors.code_leaves())
        audit.record(actor=actor, action="release.start", target=run,
                     after={"executor": run.executor, "processes": run.processes})
    return run


def retry_district(*, actor, district: District, reason: str) -> ReleaseRun:
    """Queue ``migrate_schemas --schema=<district>`` as a job (ops, from the console), with a reason
    (audited). A retry of that district already queued or running is returned, not doubled."""
    reason = require_reason(reason)
    connection.set_schema_to_public()
    with transaction.atomic():
        district = District.objects.select_for_update().get(pk=district.pk)
        waiting = ReleaseRun.objects.filter(kind=ReleaseRun.Kind.RETRY, schema_name=district.schema_name,
                                            status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).first()
        if waiting is not None:
            return waiting
        run = ReleaseRun.objects.create(kind=ReleaseRun.Kind.RETRY, executor="standard", processes=1,
                                        schema_name=district.schema_name, actor=actor, reason=reason,
                                        code_leaves=selectors.code_leaves())
        audit.record(actor=actor, action="release.retry", target=run,
                     after={"district": district.slug, "schema": district.schema_name, "reason": reason})
        jobs.queue(RELEASE_TASK, run.pk)
    return run


def execute(run: ReleaseRun, *, verbosity: int = 0) -> ReleaseRun:
    """Run ``run`` here (the job's work, and what ``migrate_all`` calls): shared first for a run of
    every schema, then each district schema, each outcome recorded as it comes. Finishes the run:
    DONE when every schema migrated, FAILED (with the count in words) otherwise."""
    connection.set_schema_to_public()
    with release_lock() as got:
        if not got:
            raise ReleaseBusy(_("Another release is running: try again when it has finished."))
        return _execute(run, verbosity=verbosity)


def _execute(run: ReleaseRun, *, verbosity: int) -> ReleaseRun:
    started = time.perf_counter()
    now = timezone.now()
    # Holding the release lock, nothing else is migrating: a run still marked running lost its process
    # (a killed deploy); say so instead of leaving it "running" for ever.
    ReleaseRun.objects.filter(status=JobStatus.RUNNING).exclude(pk=run.pk).update(
        status=JobStatus.FAILED, finished_at=now,
        error=_("Interrupted: its process ended before it finished. Its schemas are shown as they are now."))
    ReleaseRun.objects.filter(pk=run.pk).update(status=JobStatus.RUNNING, started_at=now, heartbeat_at=now,
                                                error="", finished_at=None)
    if run.kind == ReleaseRun.Kind.ALL:
        t = time.perf_counter()
        try:
            call_command("migrate_schemas", shared=True, executor="standard", interactive=False,
                         verbosity=verbosity)
        except BaseException as exc:  # noqa: BLE001 - recorded on the run, then raised again
            connection.close()
            connection.set_schema_to_public()
            _finish(run, started, error=_("The shared (public) schema failed, no district was migrated: %(e)s")
                    % {"e": error_in_words(exc)})
            raise
        connection.set_schema_to_public()
        ReleaseRun.objects.filter(pk=run.pk).update(shared_seconds=time.perf_counter() - t)
        schemas = district_schemas()
    else:
        schemas = [run.schema_name]
    ReleaseOutcome.objects.bulk_create([ReleaseOutcome(run=run, schema_name=s) for s in schemas],
                                       ignore_conflicts=True)  # a resumed run keeps what it recorded
    ReleaseRun.objects.filter(pk=run.pk).update(total=len(schemas))
    todo = list(ReleaseOutcome.objects.filter(run=run).exclude(status=ReleaseOutcome.Status.OK)
                .values_list("schema_name", flat=True))
    todo.sort(key=schemas.index)
    if run.executor == "multiprocessing" and len(todo) > 1:
        from django.conf import settings
        from django.test.utils import override_settings
        from django_tenants.migration_executors.multiproc import get_pool

        connection.close()  # the children open their own; none may inherit this one's socket
        default = getattr(settings, "TENANT_MULTIPROCESSING_MAX_PROCESSES", 2)
        with override_settings(TENANT_MULTIPROCESSING_MAX_PROCESSES=min(run.processes or default, len(todo))):
            pool = get_pool()
        try:
            for result in pool.imap_unordered(functools.partial(_in_pool_worker, verbosity), todo):
                _record(run, result)
        finally:
            pool.close()
            pool.join()
    else:
        for schema in todo:
            _record(run, migrate_schema(schema, verbosity))
    states = selectors.schema_states([s for s in schemas])
    for schema in schemas:
        state = states.get(schema)
        if state is not None:
            ReleaseOutcome.objects.filter(run=run, schema_name=schema).update(
                applied=state.latest_by_app(), behind=state.missing_count)
    return _finish(run, started)


def _record(run: ReleaseRun, result: dict) -> None:
    connection.set_schema_to_public()
    status = ReleaseOutcome.Status.OK if result["ok"] else ReleaseOutcome.Status.FAILED
    ReleaseOutcome.objects.filter(run=run, schema_name=result["schema"]).update(
        status=status, error=result["error"], seconds=round(result["seconds"], 3),
        started_at=result["started_at"], finished_at=result["finished_at"])
    ReleaseRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now())


def _finish(run: ReleaseRun, started: float, *, error: str = "") -> ReleaseRun:
    connection.set_schema_to_public()
    with transaction.atomic():
        run = ReleaseRun.objects.select_for_update().get(pk=run.pk)
        counts = {s: ReleaseOutcome.objects.filter(run=run, status=s).count()
                  for s in (ReleaseOutcome.Status.OK, ReleaseOutcome.Status.FAILED)}
        run.ok, run.failed = counts[ReleaseOutcome.Status.OK], counts[ReleaseOutcome.Status.FAILED]
        if not error and run.failed:
            names = list(run.outcomes.filter(status=ReleaseOutcome.Status.FAILED)
                         .values_list("schema_name", flat=True)[:10])
            error = _("%(n)d of %(total)d schemas failed: %(names)s") % {
                "n": run.failed, "total": run.total, "names": ", ".join(names)}
        run.status = JobStatus.FAILED if error else JobStatus.DONE
        run.error = error
        run.seconds = round(time.perf_counter() - started, 3)
        run.finished_at = timezone.now()
        run.save()
        audit.record(actor=None, action="release.done" if not error else "release.failed", target=run,
                     after={"kind": run.kind, "schema": run.schema_name, "total": run.total, "ok": run.ok,
                            "failed": run.failed, "error": error[:200]})
    return run
