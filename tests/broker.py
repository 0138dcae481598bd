"""Pointing this process's Celery app at another broker for a while: the test's own Redis, or a port
where nothing listens (a broker that refuses every connection)."""
from __future__ import annotations

import socket
import time
from contextlib import contextmanager


@contextmanager
def sending_to(url: str):
    """This process's Celery app sends to ``url`` inside the block. kombu keeps its producer pools in a
    registry of its own, keyed by connection: it is emptied (and the pools closed) on the way in and
    out, so a second block never gets the first one's closed pool, and the app makes fresh pools for
    its own broker afterwards."""
    from kombu import pools

    from config.celery import app

    saved = app.conf.broker_url
    pools.reset()
    app.conf.broker_url, app._pool, app.amqp._producer_pool = url, None, None
    try:
        yield app
    finally:
        pools.reset()
        app.conf.broker_url, app._pool, app.amqp._producer_pool = saved, None, None


def closed_port() -> int:
    """A local port nobody listens on (it was free a moment ago and is not bound again)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def refusing_broker(monkeypatch):
    """The broker refuses connections inside the block. On the way out it waits until the kicks noted
    inside have been tried against it and failed (kernel.events: by the sender thread or a flush, the
    first failure starts the back-off), so nothing noted in the block reaches the real broker later.
    Use it around code that kicks."""
    from kernel import events

    monkeypatch.setattr(events, "_broker_down_until", 0.0)  # the failed kick's back-off stays in this test
    with sending_to(f"redis://127.0.0.1:{closed_port()}/0") as app:
        yield app
        events.flush_kicks()
        deadline = time.monotonic() + 30
        while (events._kicks or not events._broker_down_until) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert events._broker_down_until, "nothing was sent to the refusing broker"
