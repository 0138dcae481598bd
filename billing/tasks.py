"""Celery tasks of billing (public schema). Thin: each calls a service. Queued by name; the periodic ones
run one at a time (an advisory lock in the public schema), so two beats or a slow run never overlap."""
from __future__ import annotations

from celery import shared_task
from django.db import connection

from kernel import jobs
from kernel.locks import try_advisory_lock


@shared_task(name="billing.tasks.process_event")
def process_event(event_id: int):
    from billing.services import EVENT_KIND

    connection.set_schema_to_public()
    job = jobs.run(EVENT_KIND, event_id)
    return getattr(job, "status", None)


@shared_task(name="billing.tasks.resume_events")
def resume_events() -> int:
    from billing.services import EVENT_KIND

    connection.set_schema_to_public()
    return len(jobs.resume(EVENT_KIND))


@shared_task(name="billing.tasks.run_ladder")
def run_ladder() -> dict | None:
    from billing.services import run_ladder as ladder

    connection.set_schema_to_public()
    with try_advisory_lock("billing-ladder") as got:
        return ladder() if got else None


@shared_task(name="billing.tasks.reconcile")
def reconcile() -> int | None:
    from billing.reconcile import reconcile as run

    connection.set_schema_to_public()
    with try_advisory_lock("billing-reconcile") as got:
        return run().pk if got else None


@shared_task(name="billing.tasks.record_usage")
def record_usage() -> int | None:
    from billing.usage import record_usage as run

    connection.set_schema_to_public()
    with try_advisory_lock("billing-usage") as got:
        return len(run()) if got else None
