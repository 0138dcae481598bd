"""Reads whose SQL Django compiles once per process: for a hot query of fixed shape that only its
parameters change (a page of case ids with their joined names, one case by id).

Compiling a queryset with eight ``select_related`` joins costs about 1.5 ms of Python on every request
(``get_select``, ``get_from_clause``, ``get_order_by``: bench/README.md, load.py), several times what
PostgreSQL needs to run it. ``Precompiled(build)`` compiles ``build()`` the first time a thread needs it,
keeps the SQL text, the select list and the converters, and then only sends the SQL with new
parameters and turns the rows into model instances as Django's ``ModelIterable`` does (the model with
its ``select_related`` rows, annotations set as attributes).

``build`` returns a queryset whose only parameters are placeholders (``ids_param``: one array
parameter, so the SQL text is the same for one id and for a page of them); ``fetch(*params)`` gives
them their values, in order. The SQL names tables without a schema: the connection's ``search_path``
(the district) decides which, as for every other query.

``joins_as_written=True``: the query runs with ``join_collapse_limit = 1`` (kernel.db.joins_as_written)
in the same round trip: ``SET LOCAL`` and the query are sent as one simple-protocol message, which
PostgreSQL runs as one implicit transaction, so the setting ends with it (inside an atomic block, the
context manager is used instead)."""
from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connections
from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.query import get_related_populators

_PLACEHOLDER = object()


def ids_param(model, column: str = "id") -> RawSQL:
    """A filter ``<model's table>.<column> = ANY(%s)`` whose one parameter ``fetch`` fills with a list."""
    table = connections["default"].ops.quote_name(model._meta.db_table)
    name = connections["default"].ops.quote_name(column)
    return RawSQL(f"{table}.{name} = ANY(%s)", (_PLACEHOLDER,), output_field=BooleanField())


class _Plan:
    def __init__(self, qs: QuerySet, connection):
        compiler = qs.query.get_compiler(using=qs.db)
        self.sql, params = compiler.as_sql()
        self.slots = [i for i, p in enumerate(params) if p is _PLACEHOLDER]
        self.params = list(params)
        self.connection, self.compiler, self.db = connection, compiler, qs.db
        select, klass_info = compiler.select, compiler.klass_info
        self.annotation_col_map = compiler.annotation_col_map
        self.model = klass_info["model"]
        fields = klass_info["select_fields"]
        self.start, self.end = fields[0], fields[-1] + 1
        self.init_list = [f[0].target.attname for f in select[self.start:self.end]]
        self.populators = get_related_populators(klass_info, select, qs.db)
        self.converters = compiler.get_converters([s[0] for s in select[:compiler.col_count]])
        # One message for SET LOCAL and the query needs client-side parameter binding (Django's default
        # for psycopg 3: ClientCursor) and no open transaction (where SET LOCAL would outlive the query).
        self.one_message = not connection.settings_dict.get("OPTIONS", {}).get("server_side_binding")


class Precompiled:
    def __init__(self, build: Callable[[], QuerySet], *, joins_as_written: bool = False):
        self.build, self.joins_as_written = build, joins_as_written
        self._local = threading.local()

    def _plan(self) -> _Plan:
        plan = getattr(self._local, "plan", None)
        if plan is None:
            qs = self.build()
            plan = self._local.plan = _Plan(qs, connections[qs.db])
        return plan

    def fetch(self, *values) -> list:
        """The model instances of the query with its placeholders set to ``values``, in the query's order."""
        plan = self._plan()
        if len(values) != len(plan.slots):
            raise TypeError(f"{len(plan.slots)} parameters expected, {len(values)} given")
        params = list(plan.params)
        for slot, value in zip(plan.slots, values, strict=True):
            params[slot] = list(value) if isinstance(value, (list, tuple, set, frozenset)) else value
        connection = plan.connection
        if not self.joins_as_written:
            rows = self._execute(connection, plan.sql, params, skip=False)
        elif plan.one_message and not connection.in_atomic_block:
            rows = self._execute(connection, "SET LOCAL join_collapse_limit = 1; " + plan.sql, params, skip=True)
        else:
            from kernel.db import joins_as_written

            with joins_as_written():
                rows = self._execute(connection, plan.sql, params, skip=False)
        if plan.converters:
            rows = plan.compiler.apply_converters(rows, plan.converters)
        out = []
        for row in rows:
            obj = plan.model.from_db(plan.db, plan.init_list, row[plan.start:plan.end])
            for populator in plan.populators:
                populator.populate(row, obj)
            for attr, col in plan.annotation_col_map.items():
                setattr(obj, attr, row[col])
            out.append(obj)
        return out

    @staticmethod
    def _execute(connection, sql: str, params: list, *, skip: bool) -> list:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            if skip:  # the SET's empty result, then the query's
                cursor.nextset()
            return cursor.fetchall()
