"""Celery tasks of the kernel. Tasks carry their district's schema (tenant-schemas-celery)."""
from __future__ import annotations

from celery import shared_task
from django.db import connection

from kernel.events import relay_pending


@shared_task(name="kernel.tasks.relay_outbox")
def relay_outbox():
    """Deliver this district's pending domain events (runs in the district's schema)."""
    total = 0
    while True:
        delivered = relay_pending()
        total += delivered
        if delivered == 0:
            return total


def serving_districts():
    from tenants.models import District

    return District.objects.exclude(schema_name="public").filter(status__in=District.SERVING)


@shared_task(name="kernel.tasks.relay_all_districts")
def relay_all_districts():
    """Periodic sweep: relay pending events of every serving district (catches up after an outage)."""
    connection.set_schema_to_public()
    for district in serving_districts():
        relay_outbox.apply_async(headers={"_schema_name": district.schema_name})


@shared_task(name="kernel.tasks.fan_out_periodic")
def fan_out_periodic():
    """Run each module's periodic tasks in every serving district that has the module on."""
    import time

    from celery import current_app

    from modules.catalog import catalog

    connection.set_schema_to_public()
    minute = int(time.time() // 60)
    for district in serving_districts():
        for spec in catalog.effective(district):
            for periodic in spec.periodic_tasks:
                if minute % max(1, periodic.seconds // 60) == 0:
                    current_app.send_task(periodic.task, headers={"_schema_name": district.schema_name})
