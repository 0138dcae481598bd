"""Transactional outbox: modules publish domain events in their transaction; Celery relays them to
idempotent handlers. A handler runs at most once per event (HandledEvent), so redelivery after a
killed worker or a broker outage changes nothing that was already done."""
from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from kernel.models import HandledEvent, OutboxEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Handler:
    name: str
    fn: Callable
    module_key: str | None  # the handler runs only in districts that have this module on


_handlers: dict[str, list[Handler]] = defaultdict(list)


def handles(topic: str, *, module: str | None = None, name: str | None = None):
    """Decorator registering ``fn(payload, event)`` as a handler of ``topic``."""

    def register(fn):
        handler = Handler(name or f"{fn.__module__}.{fn.__qualname__}", fn, module)
        if all(h.name != handler.name for h in _handlers[topic]):
            _handlers[topic].append(handler)
        return fn

    return register


def handlers_for(topic: str) -> list[Handler]:
    return list(_handlers.get(topic, ()))


def publish(topic: str, payload: dict) -> OutboxEvent:
    """Write an event in the caller's transaction; ask a worker to relay it once committed."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("publish() must be called inside the service's transaction")
    event = OutboxEvent.objects.create(topic=topic, payload=payload)
    transaction.on_commit(kick_relay)
    return event


BROKER_BACKOFF_SECONDS = 30.0
_broker_down_until = 0.0


def kick_relay() -> None:
    """Ask a worker to relay now. If the broker is down the events stay in the outbox and the
    periodic sweep (kernel.tasks.relay_all_districts) delivers them when it is back; meanwhile
    requests stop waiting on the broker for BROKER_BACKOFF_SECONDS after a failure."""
    import time

    from kernel.tasks import relay_outbox

    global _broker_down_until
    if time.monotonic() < _broker_down_until:
        return
    try:
        relay_outbox.apply_async(retry=False)
    except Exception:  # broker unreachable: nothing is lost, the sweep will pick it up
        _broker_down_until = time.monotonic() + BROKER_BACKOFF_SECONDS
        log.warning("outbox relay not queued (broker unavailable); the periodic sweep will deliver")


def relay_pending(limit: int = 500) -> int:
    """Deliver pending events of the current schema. Returns the number fully delivered."""
    district = getattr(connection, "tenant", None)
    delivered = 0
    with transaction.atomic():
        events = list(
            OutboxEvent.objects.select_for_update(skip_locked=True)
            .filter(delivered_at__isnull=True)
            .order_by("created_at")[:limit]
        )
        for event in events:
            done = set(HandledEvent.objects.filter(event=event).values_list("handler", flat=True))
            failed = False
            for handler in handlers_for(event.topic):
                if handler.name in done:
                    continue
                if handler.module_key and not (district and district.has_module(handler.module_key)):
                    continue
                try:
                    with transaction.atomic():
                        handler.fn(event.payload, event)
                        HandledEvent.objects.create(event=event, handler=handler.name)
                except Exception as exc:  # one failing handler must not block the others
                    failed = True
                    event.attempts += 1
                    event.last_error = f"{handler.name}: {exc!r}"[:2000]
                    log.exception("outbox handler failed", extra={"topic": event.topic, "handler": handler.name})
            if not failed:
                event.delivered_at = timezone.now()
                delivered += 1
            event.save(update_fields=["delivered_at", "attempts", "last_error"])
    return delivered
