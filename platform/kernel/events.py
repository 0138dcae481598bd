"""Transactional outbox: modules publish domain events in their transaction; Celery relays them to
idempotent handlers. A handler runs at most once per event (HandledEvent), so redelivery after a
killed worker or a broker outage changes nothing that was already done."""
from __future__ import annotations

import atexit
import logging
import os
import threading
import time
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


# --- kicks: "run this district's task soon", off the request path -----------------------------------
#
# Queueing a Celery task costs a few broker round trips; a request should not pay them, and a burst of
# 400 submissions a second should not queue 400 relays. ``kick`` only notes (task, district, arguments)
# in memory; one sender thread per process queues each noted one once, every KICK_INTERVAL at most. What a kick
# would have done is never lost when the process dies first or the broker is down: the events wait in
# the outbox and the periodic sweep (kernel.tasks.relay_all_districts) delivers them.

BROKER_BACKOFF_SECONDS = 30.0
KICK_INTERVAL = 0.1
_broker_down_until = 0.0
_kicks: set[tuple[str, str, tuple]] = set()
_kick_lock = threading.Condition()
_kick_thread: threading.Thread | None = None
_kick_pid = 0


def kick(task_name: str, schema: str | None = None, *, args: tuple = ()) -> None:
    """Ask a worker to run ``task_name(*args)`` in this district (``schema``: default the current one)
    soon. ``args``: JSON-able and hashable (numbers, strings, tuples of them); equal kicks merge. Use it
    for work whose loss the periodic sweeps repair (the outbox relay, a batch the resume picks up) or
    that may be lost when the broker is down (a notice)."""
    global _kick_thread, _kick_pid
    from config.celery import app

    if app.conf.task_always_eager:  # as apply_async would: run it here and now
        if task_name not in app.tasks:
            app.loader.import_default_modules()  # the workers' task autodiscovery
        app.tasks[task_name].apply(args=list(args), headers={"_schema_name": schema or connection.schema_name})
        return
    with _kick_lock:
        _kicks.add((task_name, schema or connection.schema_name, tuple(args)))
        if _kick_thread is None or _kick_pid != os.getpid() or not _kick_thread.is_alive():
            _kick_pid = os.getpid()  # after a fork the parent's thread is not ours
            _kick_thread = threading.Thread(target=_kick_loop, name="mashang-kicks", daemon=True)
            _kick_thread.start()
        _kick_lock.notify()


def kick_relay() -> None:
    kick("kernel.tasks.relay_outbox")


def _kick_loop() -> None:
    while True:
        with _kick_lock:
            while not _kicks:
                _kick_lock.wait()
            if threading.current_thread() is not _kick_thread:
                return  # replaced (a fork, or a test that flushes by hand)
        flush_kicks()
        time.sleep(KICK_INTERVAL)  # kicks arriving meanwhile are sent together


def flush_kicks() -> int:
    """Queue every noted kick now (the sender thread, and at exit). Returns how many were queued.
    After a broker failure, kicks are dropped for BROKER_BACKOFF_SECONDS: the sweep covers them."""
    global _broker_down_until
    from config.celery import app

    with _kick_lock:
        pending = list(_kicks)
        _kicks.clear()
    sent = 0
    for task_name, schema, args in pending:
        if time.monotonic() < _broker_down_until:
            break
        try:
            app.send_task(task_name, args=list(args), headers={"_schema_name": schema}, retry=False)
            sent += 1
        except Exception:  # broker unreachable: nothing is lost, the sweep will pick it up
            _broker_down_until = time.monotonic() + BROKER_BACKOFF_SECONDS
            log.warning("task %s not queued (broker unavailable); the periodic sweep will catch up", task_name)
    return sent


atexit.register(flush_kicks)


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
