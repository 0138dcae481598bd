"""The database backend: django-tenants' PostgreSQL backend with a health check that costs no round trip
while the connection is quiet (see base.py)."""

from contextlib import contextmanager  # noqa: E402

from django.db import connection, transaction  # noqa: E402
from django.db.models import BooleanField, Expression, F  # noqa: E402


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


class AnyOf(Expression):
    """``<field> = ANY(ARRAY(<subquery>))`` as a filter: the subquery (uncorrelated, e.g. the cases a
    user takes part in, the ids of some grids) runs once, before the outer scan, and the outer condition
    is an index condition on the field. So it can be one branch of an OR that PostgreSQL answers
    with a BitmapOr of index scans; ``field__in=<subquery>`` in an OR is checked row by row over a
    sequential scan, and a join (``participants__user=``) also duplicates rows."""

    conditional = True
    output_field = BooleanField()

    def __init__(self, field: str, subquery):
        from django.contrib.postgres.expressions import ArraySubquery

        super().__init__()
        self.lhs, self.rhs = F(field), ArraySubquery(subquery.order_by())  # no ORDER BY: a set

    def get_source_expressions(self):
        return [self.lhs, self.rhs]

    def set_source_expressions(self, exprs):
        self.lhs, self.rhs = exprs

    def as_sql(self, compiler, connection):
        lhs, lhs_params = compiler.compile(self.lhs)
        rhs, rhs_params = compiler.compile(self.rhs)
        return f"{lhs} = ANY({rhs})", (*lhs_params, *rhs_params)
