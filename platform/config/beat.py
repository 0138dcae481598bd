"""One beat at a time. Every `celery beat` takes a PostgreSQL session-level advisory lock on a
connection of its own and keeps it for its whole life; only the holder sends periodic tasks. A second
beat (a leftover of `celery worker -B`, a restarted `make run`, two replicas during a rollout) logs
who holds the schedule and waits, sending nothing, and takes over within RETRY_SECONDS once the
holder is gone: PostgreSQL releases the lock itself when the holder's session ends, killed or not.

Why a lock in PostgreSQL held by the beat rather than a lock taken by each periodic task: the beat is
the one thing that must be single, every periodic task (and every one added later) is covered without
touching it, a dead holder is noticed by the server (no lease to expire, no clock), and PostgreSQL is
already what every process depends on. If the holder loses its connection (a database restart), it
stops sending until it holds the lock again, so two beats never both send."""
from __future__ import annotations

import hashlib
import logging
import os
import socket

from celery.beat import PersistentScheduler

log = logging.getLogger(__name__)

LOCK_NAME = "mashang:celery-beat"
LOCK_KEY = int.from_bytes(hashlib.blake2b(LOCK_NAME.encode(), digest_size=8).digest(), "big", signed=True)
RETRY_SECONDS = 5.0  # a waiting beat tries the lock this often; the holder checks its connection as often


class SingleBeatScheduler(PersistentScheduler):
    """celery's PersistentScheduler (schedule in a local shelve file) that sends only while it holds
    the beat lock (``beat_scheduler = "config.beat:SingleBeatScheduler"``)."""

    def __init__(self, *args, **kwargs):
        self._db = None  # a Django database wrapper of its own, outside Django's per-thread handler
        self._holding = False
        self._waiting_logged = False
        super().__init__(*args, **kwargs)

    # --- the lock ------------------------------------------------------------------------------

    def _connect(self):
        from django.db import connections
        from django.db.utils import load_backend

        db = connections.settings["default"]
        options = {k: v for k, v in db.get("OPTIONS", {}).items() if k != "pool"}
        # Keepalives: a holder whose host vanished is noticed by the server's TCP stack too.
        options.update(keepalives=1, keepalives_idle=10, keepalives_interval=5, keepalives_count=3,
                       application_name=f"mashang-beat {socket.gethostname()[:40]} pid {os.getpid()}")
        wrapper = load_backend(db["ENGINE"]).DatabaseWrapper({**db, "OPTIONS": options, "CONN_MAX_AGE": None},
                                                             "beat-lock")
        wrapper.ensure_connection()
        return wrapper

    def _close(self) -> None:
        if self._db is not None:
            try:
                self._db.close()
            except Exception:  # noqa: BLE001 - a dead connection: nothing left to close
                pass
        self._db, self._holding = None, False

    def _holder(self) -> str:
        """Who holds the lock, as PostgreSQL knows it (application name and backend pid)."""
        try:
            with self._db.cursor() as cursor:
                cursor.execute(
                    "SELECT a.application_name, a.pid, a.client_addr::text FROM pg_locks l "
                    "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
                    "AND l.classid = %s AND l.objid = %s AND l.objsubid = 1",
                    [(LOCK_KEY >> 32) & 0xFFFFFFFF, LOCK_KEY & 0xFFFFFFFF])
                row = cursor.fetchone()
        except Exception:  # noqa: BLE001 - only for the log line
            return "unknown"
        return f"{row[0] or '?'} (backend pid {row[1]}, from {row[2] or 'local socket'})" if row else "unknown"

    def holds_lock(self) -> bool:
        """True while this beat holds the lock. The holder checks its connection on every tick (the lock
        lives as long as the session); a waiting beat tries the lock on every tick (RETRY_SECONDS)."""
        try:
            if self._holding:
                if self._db.is_usable():
                    return True
                log.error("celery beat lost its database connection and with it the beat lock: "
                          "sending nothing until it holds the lock again")
                self._close()
            if self._db is None:
                self._db = self._connect()
            with self._db.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY])
                self._holding = bool(cursor.fetchone()[0])
        except Exception as exc:  # noqa: BLE001 - database unreachable: do not send, try again later
            log.warning("celery beat cannot reach the database to take the beat lock (%s): sending nothing",
                        type(exc).__name__)
            self._close()
            return False
        if self._holding:
            log.warning("celery beat holds the beat lock (PostgreSQL advisory lock %s): "
                        "this beat sends the periodic tasks", LOCK_KEY)
            self._waiting_logged = False
        elif not self._waiting_logged:
            log.warning("another celery beat already sends the periodic tasks: %s holds the beat lock "
                        "(PostgreSQL advisory lock %s). This beat sends nothing and waits to take over.",
                        self._holder(), LOCK_KEY)
            self._waiting_logged = True
        return self._holding

    # --- the scheduler --------------------------------------------------------------------------

    def tick(self, *args, **kwargs):
        if not self.holds_lock():
            return RETRY_SECONDS
        return min(super().tick(*args, **kwargs), RETRY_SECONDS)

    def close(self):
        super().close()
        self._close()
