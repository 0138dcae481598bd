"""PostgreSQL advisory locks named per district: one worker at a time runs a job (an award batch, its
SMS pass, a ledger import), and a redelivered task finds the lock taken and stops."""
from __future__ import annotations

import hashlib
from contextlib import contextmanager

from django.db import connection


def lock_key(*parts) -> int:
    """A 64-bit key for ``parts`` in the current district (the schema is part of the name)."""
    name = ":".join(map(str, (connection.schema_name, *parts)))
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


@contextmanager
def try_advisory_lock(*parts):
    """Yields True with the session lock held (released on leaving), or False when another holds it."""
    key = lock_key(*parts)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        got = cursor.fetchone()[0]
    try:
        yield got
    finally:
        if got:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
