from __future__ import annotations

from celery import shared_task
from django.db import connection

from kernel.locks import try_advisory_lock
from tenants.services import fill_pool


@shared_task(name="tenants.tasks.refill_pool")
def refill_pool() -> int:
    """Keep DISTRICT_POOL_SIZE spare, fully migrated schemas ready for new districts. One refill at a
    time (the kernel's advisory lock, in the public schema): two would both see the pool short."""
    connection.set_schema_to_public()
    with try_advisory_lock("refill-pool") as got:
        return fill_pool() if got else 0

from tenants.releases import tasks as _release_tasks  # noqa: E402, F401 - registers the release tasks
