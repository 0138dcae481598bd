"""Celery tasks of ratings.integrity, one-line calls of the kernel's job runner (kernel.jobs). Each runs
in its district's schema (tenant-schemas-celery) and is safe to run again.

- ``run_scan(run_id)``: one recorded pass (``ScanRun``), queued by ``services.start_scan``;
- ``scan_periodic()``: periodic (every hour, ModuleSpec ``periodic_tasks``): records a pass and runs it
  here (409 while another is running: skipped);
- ``resume_scans()``: periodic (every minute): passes whose worker died or whose task was lost are
  queued again."""
from __future__ import annotations

from celery import shared_task

from kernel.errors import Conflict
from modules.ratings.integrity import services


@shared_task(name="modules.ratings.integrity.tasks.run_scan")
def run_scan(run_id: int) -> str | None:
    run = services.run_scan(run_id=run_id)
    return f"{run.status}:{run.held}" if run else None


@shared_task(name="modules.ratings.integrity.tasks.scan_periodic")
def scan_periodic() -> str | None:
    try:
        run = services.start_scan(actor=None, background=False)
    except Conflict:
        return None
    return f"{run.status}:{run.held}"


@shared_task(name="modules.ratings.integrity.tasks.resume_scans")
def resume_scans() -> list[int]:
    return services.resume_scans()
