"""Celery tasks of the codes module. They carry their district's schema (tenant-schemas-celery)."""
from __future__ import annotations

from celery import shared_task

from kernel import jobs
from modules.codes.print_runs import PRINT_RUNS


@shared_task(name="modules.codes.tasks.make_print_run")
def make_print_run(run_id: int) -> int | None:
    """Make a print run's PDF and ZIP (kernel.jobs runs it); progress is saved on the run as it goes."""
    run = jobs.run(PRINT_RUNS, run_id)
    return run.total if run is not None and run.status == run.Status.DONE else None


@shared_task(name="modules.codes.tasks.requeue_stale_print_runs")
def requeue_stale_print_runs() -> int:
    """Periodic (every minute): runs whose worker died (heartbeat stopped, lock free) and runs still
    queued a few minutes after they were asked for (the broker was down) are queued again. Taking a run
    twice is harmless: the second finds it locked or done."""
    return len(jobs.resume(PRINT_RUNS))
