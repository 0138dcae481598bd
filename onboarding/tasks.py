"""Celery tasks of onboarding (public schema). Queued by name (kernel.jobs.queue / kernel.events.kick)."""
from __future__ import annotations

from celery import shared_task

from onboarding.provisioning import provision as _provision
from onboarding.provisioning import resume_runs


@shared_task(name="onboarding.tasks.provision")
def provision(run_id: int) -> str | None:
    """Run one provisioning run (kernel.jobs: under its advisory lock, beating; done steps skipped)."""
    run = _provision(run_id)
    return run.status if run is not None else None


@shared_task(name="onboarding.tasks.resume_provisioning")
def resume_provisioning() -> int:
    """Periodic (every minute, settings.CELERY_BEAT_SCHEDULE): runs whose worker died and runs still
    queued after the broker was down are queued again. Taking a run twice is harmless: the second finds
    it locked or done."""
    return len(resume_runs())
