"""Delivery of SMS and WeChat messages. ``deliver`` is queued by name (kernel.events.kick) after a
handler made messages; the periodic sweep sends what quiet hours held and retries what failed.
Both are safe to run twice: a message is sent under its row lock and marked sent in that transaction."""
from __future__ import annotations

from celery import shared_task
from django.db import connection

from notifications.services import deliver_due


@shared_task(name="notifications.tasks.deliver")
def deliver() -> int:
    total = 0
    while True:
        sent = deliver_due()
        total += sent
        if sent == 0:
            return total


@shared_task(name="notifications.tasks.deliver_all_districts")
def deliver_all_districts() -> None:
    from kernel.tasks import serving_districts

    connection.set_schema_to_public()
    for district in serving_districts():
        deliver.apply_async(headers={"_schema_name": district.schema_name})
