"""Celery tasks of billing (public schema). Thin: each calls a service. Queued by name."""
from __future__ import annotations

from celery import shared_task

from kernel import jobs


@shared_task(name="billing.tasks.process_event")
def process_event(event_id: int):
    from billing.services import EVENT_KIND

    job = jobs.run(EVENT_KIND, event_id)
    return getattr(job, "status", None)


@shared_task(name="billing.tasks.resume_events")
def resume_events() -> int:
    from billing.services import EVENT_KIND

    return len(jobs.resume(EVENT_KIND))


@shared_task(name="billing.tasks.run_ladder")
def run_ladder() -> dict:
    from billing.services import run_ladder as ladder

    return ladder()


@shared_task(name="billing.tasks.reconcile")
def reconcile() -> int:
    from billing.reconcile import reconcile as run

    return run().pk


@shared_task(name="billing.tasks.record_usage")
def record_usage() -> int:
    from billing.usage import record_usage as run

    return len(run())
