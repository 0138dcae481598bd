"""django-tenants' PostgreSQL backend, with a cheaper per-request health check.

With CONN_HEALTH_CHECKS (persistent connections under WSGI, config/settings.py) Django runs ``SELECT 1``
before the first query of every request: a database round trip, and about a tenth of a web worker's
samples under bench/load.py. A connection the server has closed (restart, ``pg_terminate_backend``,
idle timeout, a reset) has something to read on its socket: PostgreSQL's FATAL message, the end of the
stream, or the error. So the check here first looks at the socket without waiting: nothing to read, the
client idle and not broken, means the connection is as usable as ``SELECT 1`` would have found it;
anything else falls back to Django's ``SELECT 1`` (and a reconnect if that fails). A connection cut
without a word (a silent network partition) is not found either way before the TCP keepalive gives up.
``is_usable`` itself is unchanged (config/beat.py's lock holder still asks the server)."""
from __future__ import annotations

import select

from django_tenants.postgresql_backend.base import DatabaseWrapper as TenantDatabaseWrapper


class DatabaseWrapper(TenantDatabaseWrapper):
    def close_if_health_check_failed(self):
        if (self.connection is None or self.pool or not self.health_check_enabled
                or self.health_check_done):
            return super().close_if_health_check_failed()
        if self.quiet():
            self.health_check_done = True
            return None
        return super().close_if_health_check_failed()

    def quiet(self) -> bool:
        """Open, idle outside a transaction, and nothing from the server waiting on the socket."""
        from psycopg import pq

        conn = self.connection
        try:
            if conn.closed or conn.broken or conn.info.transaction_status != pq.TransactionStatus.IDLE:
                return False
            readable, _w, failed = select.select([conn.fileno()], [], [conn.fileno()], 0)
        except (OSError, ValueError, AttributeError):
            return False
        return not readable and not failed
