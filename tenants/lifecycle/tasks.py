"""Celery tasks of the district lifecycle (public schema). Found by Celery through tenants/tasks.py."""
from __future__ import annotations

import logging

from celery import shared_task
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from kernel import jobs

log = logging.getLogger(__name__)


@shared_task(name="tenants.lifecycle.tasks.run_export")
def run_export(export_id: int) -> str | None:
    """Make one district export (kernel.jobs runs it under its lock, beating)."""
    from tenants.lifecycle.exports import EXPORTS

    connection.set_schema_to_public()
    export = jobs.run(EXPORTS, export_id)
    return export.status if export is not None else None


@shared_task(name="tenants.lifecycle.tasks.sweep")
def sweep() -> dict:
    """Periodic (settings.CELERY_BEAT_SCHEDULE, every 10 minutes): exports whose worker died or whose
    task was lost are queued again; once a day, the archived districts past their retention that have
    a finished export are listed for platform staff (a warning in the log; the console shows them).
    Nothing is deleted here: deletion is an explicit, confirmed action."""
    from tenants.lifecycle.exports import EXPORTS
    from tenants.lifecycle.selectors import due_for_deletion

    connection.set_schema_to_public()
    resumed = jobs.resume(EXPORTS)
    due = []
    if cache.add(f"lifecycle:due-listed:{timezone.localdate().isoformat()}", 1, timeout=26 * 3600):
        due = [d.slug for d in due_for_deletion()]
        for slug in due:
            log.warning("archived district past its retention, with a finished export: may be deleted",
                        extra={"district": slug})
    return {"resumed": resumed, "due": due}
