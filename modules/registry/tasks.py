"""Celery tasks of the registry: one-line calls of the kernel's job runner (kernel.jobs). Each runs in
the district's schema (tenant-schemas-celery re-enters it from the ``_schema_name`` header) and is safe
to run again: acks_late redelivers the task of a killed worker, and the job resumes where its
committed work stopped."""
from __future__ import annotations

from celery import shared_task

from kernel import jobs
from modules.registry.datachecks import AUDIT_RUNS
from modules.registry.ledger import LEDGER_JOBS


@shared_task(name="registry.tasks.run_import_job")
def run_import_job(job_id: int) -> str | None:
    """The dry run of an uploaded ledger, or its import once confirmed; progress is saved on the job."""
    job = jobs.run(LEDGER_JOBS, job_id)
    return f"{job.phase}:{job.status}" if job else None


@shared_task(name="registry.tasks.run_audit")
def run_audit(run_id: int) -> str | None:
    """One data-check run over the whole district."""
    run = jobs.run(AUDIT_RUNS, run_id)
    return run.status if run else None


@shared_task(name="registry.tasks.resume_dead_jobs")
def resume_dead_jobs() -> dict:
    """Periodic (every minute): ledger jobs and data-check runs whose worker died (heartbeat stopped,
    lock free) or whose task was lost (still queued: the broker was down) are queued again; they resume
    where their committed work stopped."""
    return {"ledger_jobs": jobs.resume(LEDGER_JOBS), "audit_runs": jobs.resume(AUDIT_RUNS)}
