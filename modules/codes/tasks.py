"""Celery tasks of the codes module. They carry their district's schema (tenant-schemas-celery)."""
from __future__ import annotations

from celery import shared_task

from modules.codes.models import PrintRun


@shared_task(name="modules.codes.tasks.make_print_run")
def make_print_run(run_id: int) -> int | None:
    """Make a print run's PDF and ZIP; progress is saved on the run as it goes."""
    from modules.codes.printing import produce

    run = PrintRun.objects.filter(pk=run_id).first()
    if run is None:
        return None
    done = produce(run)
    return done.total if done is not None else None


@shared_task(name="modules.codes.tasks.requeue_stale_print_runs")
def requeue_stale_print_runs() -> int:
    """Periodic (every minute): runs whose worker died (heartbeat stopped, lock free) and runs still
    queued a few minutes after they were asked for (the broker was down) are queued again. Taking a run
    twice is harmless: the second finds it locked or done."""
    from modules.codes.services import print_runs_to_requeue

    ids = print_runs_to_requeue()
    for pk in ids:
        make_print_run.apply_async(args=[pk])
    return len(ids)
