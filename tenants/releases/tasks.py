"""Celery tasks of releases: one-liners over ``tenants.releases.jobs`` (registered through tenants.tasks)."""
from __future__ import annotations

from celery import shared_task
from django.db import connection

from tenants.releases import jobs


@shared_task(name="tenants.releases.tasks.run_release")
def run_release(run_id: int) -> None:
    connection.set_schema_to_public()
    jobs.jobs.run(jobs.RELEASES, run_id)


@shared_task(name="tenants.releases.tasks.requeue_releases")
def requeue_releases() -> list[int]:
    """The sweep: retries whose worker died or whose task was lost are queued again."""
    connection.set_schema_to_public()
    return jobs.requeue()
