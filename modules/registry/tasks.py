"""Celery tasks of the registry. Each runs in the district's schema (tenant-schemas-celery re-enters
it from the ``_schema_name`` header) and is safe to run again: acks_late redelivers the task of a
killed worker, and the services resume where the committed work stopped."""
from __future__ import annotations

from celery import shared_task

from modules.registry import audit, ledger


@shared_task(name="registry.tasks.run_import_job")
def run_import_job(job_id: int) -> str | None:
    """The dry run of an uploaded ledger, or its import once confirmed; progress is saved on the job."""
    job = ledger.run_job(job_id=job_id)
    return f"{job.phase}:{job.status}" if job else None


@shared_task(name="registry.tasks.run_audit")
def run_audit(run_id: int) -> str | None:
    """One data-audit run over the whole district."""
    run = audit.perform_audit(run_id=run_id)
    return run.status if run else None


@shared_task(name="registry.tasks.resume_dead_jobs")
def resume_dead_jobs() -> dict:
    """Periodic (every minute): ledger jobs and audit runs whose worker died (heartbeat stopped, lock
    free) are queued again; they resume where their committed work stopped."""
    job_ids, run_ids = ledger.dead_jobs(), audit.dead_runs()
    for pk in job_ids:
        run_import_job.apply_async(args=[pk])
    for pk in run_ids:
        run_audit.apply_async(args=[pk])
    return {"ledger_jobs": job_ids, "audit_runs": run_ids}
