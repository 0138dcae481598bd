"""Celery tasks of the points module. Each runs in its district's schema (tenant-schemas-celery) and
is safe to run again: acks_late redelivers a killed worker's task, and the services resume where
the committed work stopped."""
from __future__ import annotations

from celery import shared_task

from modules.points.batches import services as batches
from modules.points.ledger import scores


@shared_task(name="modules.points.tasks.run_batch")
def run_batch_task(batch_id: int) -> str | None:
    batch = batches.run_batch(batch_id=batch_id)
    return f"{batch.status}:{batch.progress_done}/{batch.target_count}" if batch else None


@shared_task(name="modules.points.tasks.resume_stalled_batches")
def resume_stalled_batches() -> list[int]:
    """Periodic: batches whose worker died (or whose task was lost) are queued again."""
    return batches.resume_stalled()


@shared_task(name="modules.points.tasks.refresh_compound_scores")
def refresh_compound_scores() -> int:
    """Periodic: the compound civility scores and ranking."""
    return scores.refresh_compound_scores()
