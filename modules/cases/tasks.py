"""Celery tasks of the cases module (run in their district's schema, tenant-schemas-celery)."""
from __future__ import annotations

from celery import shared_task

from modules.cases import services


@shared_task(name="modules.cases.tasks.sweep")
def sweep() -> dict:
    """The time-limit sweep: escalate overdue cases one level, close quiet resolved ones."""
    return {"escalated": services.escalate_overdue(), "auto_closed": services.auto_close()}


@shared_task(name="modules.cases.tasks.deliver_webhooks")
def deliver_webhooks() -> int:
    """Send status updates owed to integrations (retries with back-off)."""
    from modules.cases.intake import webhooks

    return webhooks.deliver_due()


@shared_task(name="modules.cases.tasks.sweep_orphan_files")
def sweep_orphan_files() -> int:
    """Remove stored upload files no attachment row points to (left by a crash mid-request), and the
    kept files of report forms never sent again (modules.cases.pending)."""
    from modules.cases import pending
    from modules.cases.intake import uploads

    return uploads.sweep_orphan_files() + pending.sweep()
