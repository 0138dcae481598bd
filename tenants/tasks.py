from __future__ import annotations

from celery import shared_task
from django.db import connection

from tenants.services import fill_pool


@shared_task(name="tenants.tasks.refill_pool")
def refill_pool():
    """Keep DISTRICT_POOL_SIZE spare, fully migrated schemas ready for new districts."""
    connection.set_schema_to_public()
    return fill_pool()
