"""The database backend: django-tenants' PostgreSQL backend with a health check that costs no round trip
while the connection is quiet (see base.py)."""

from contextlib import contextmanager  # noqa: E402

from django.db import connection, transaction  # noqa: E402


@contextmanager
def joins_as_written():
    """Inside the block PostgreSQL keeps a query's joins in the order they are written
    (``join_collapse_limit = 1``) instead of searching every order. For a query that starts from a few
    rows (a page of ids, one primary key) and looks up each one's related rows, the written order is
    the right one, and the search is what costs: eight LEFT JOINs with a visibility sub-query took
    30–50 ms to plan and under 1 ms to run (bench/README.md, load.py). Don't use it for a query whose
    best plan starts from a joined table. A transaction of its own (SET LOCAL); inside another one the
    setting is put back on the way out."""
    nested = connection.in_atomic_block
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL join_collapse_limit = 1")
        try:
            yield
        finally:
            if nested:
                cursor.execute("SET LOCAL join_collapse_limit TO DEFAULT")
