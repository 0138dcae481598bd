"""Which district is at which migration: reads for the console page, the API and ``migrate_all``.

The code's side comes from Django's migration graph (``MigrationLoader``: its leaf nodes per app).
The database's side is each schema's own ``django_migrations`` table, read for every schema in ONE
``UNION ALL`` query. A schema is **behind** when a migration of the code is not applied in it, and
**failed** when the last release outcome recorded for it (a run of every schema or a retry) failed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from django.db import connection
from django.db.models import QuerySet

from tenants.models import District
from tenants.releases.models import ReleaseOutcome, ReleaseRun


@lru_cache(maxsize=1)
def _graph():
    from django.db.migrations.loader import MigrationLoader

    return MigrationLoader(None, ignore_no_migrations=True).graph


def code_leaves() -> dict[str, list[str]]:
    """{app: [leaf migration names]} of the code (one leaf per app, unless a merge is missing)."""
    leaves: dict[str, list[str]] = {}
    for app, name in sorted(_graph().leaf_nodes()):
        leaves.setdefault(app, []).append(name)
    return leaves


@lru_cache(maxsize=1)
def _app_order() -> dict[str, list[str]]:
    """Each app's migrations in the order they apply (the graph's forwards plan to its leaves)."""
    graph = _graph()
    order: dict[str, list[str]] = {}
    for leaf in sorted(graph.leaf_nodes()):
        for app, name in graph.forwards_plan(leaf):
            if app == leaf[0] and name not in order.setdefault(app, []):
                order[app].append(name)
    return order


@dataclass
class AppState:
    app: str
    latest: str | None  # the last applied migration of the app (in graph order), None: none applied
    leaf: str  # the code's leaf
    missing: list[str] = field(default_factory=list)  # the code's migrations not applied here

    @property
    def behind(self) -> bool:
        return bool(self.missing)


@dataclass
class SchemaState:
    schema_name: str
    apps: list[AppState]
    unknown: list[str]  # applied here, unknown to the code (a schema ahead of this code)

    @property
    def missing_count(self) -> int:
        return sum(len(a.missing) for a in self.apps)

    @property
    def behind(self) -> bool:
        return self.missing_count > 0

    def latest_by_app(self) -> dict[str, str | None]:
        return {a.app: a.latest for a in self.apps}


def _with_migrations_table(schemas: list[str]) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT table_schema FROM information_schema.tables WHERE table_name = 'django_migrations' "
                       "AND table_schema = ANY(%s)", [schemas])
        found = {row[0] for row in cursor.fetchall()}
    return [s for s in schemas if s in found]


def applied_migrations(schemas: list[str]) -> dict[str, set[tuple[str, str]]]:
    """{schema: {(app, name) applied}} for ``schemas``, in one query (a schema without a
    ``django_migrations`` table, e.g. one being made, is left out)."""
    schemas = _with_migrations_table(list(dict.fromkeys(schemas)))
    applied: dict[str, set[tuple[str, str]]] = {s: set() for s in schemas}
    if not schemas:
        return applied
    qn = connection.ops.quote_name
    sql = " UNION ALL ".join(
        f"SELECT %s, app, name FROM {qn(s)}.django_migrations" for s in schemas)  # noqa: S608 - quoted names
    with connection.cursor() as cursor:
        cursor.execute(sql, schemas)
        for schema, app, name in cursor.fetchall():
            applied[schema].add((app, name))
    return applied


def schema_states(schemas: list[str]) -> dict[str, SchemaState]:
    """The migration state of each of ``schemas`` against the code: per app the latest applied
    migration, the code's leaf and what is missing."""
    order, leaves = _app_order(), code_leaves()
    known = {(app, name) for app, names in order.items() for name in names}
    states = {}
    for schema, done in applied_migrations(schemas).items():
        apps = []
        for app in sorted(order):
            names = order[app]
            applied = [n for n in names if (app, n) in done]
            apps.append(AppState(app=app, latest=applied[-1] if applied else None, leaf=leaves[app][-1],
                                 missing=[n for n in names if (app, n) not in done]))
        states[schema] = SchemaState(schema, apps, sorted(f"{a}.{n}" for a, n in done - known))
    return states


@dataclass
class ReportRow:
    """One schema in the report."""

    schema_name: str
    district: District | None
    state: SchemaState | None  # None: the schema has no django_migrations table (yet)
    last: ReleaseOutcome | None  # the last recorded outcome for it

    @property
    def is_spare(self) -> bool:
        return self.district is not None and self.district.status == District.Status.SPARE

    @property
    def behind(self) -> bool:
        return self.state is None or self.state.behind

    @property
    def failed(self) -> bool:
        return self.last is not None and self.last.status == ReleaseOutcome.Status.FAILED

    @property
    def behind_apps(self) -> list[AppState]:
        return [a for a in self.state.apps if a.behind] if self.state else []


def last_outcomes(schemas: list[str] | None = None) -> dict[str, ReleaseOutcome]:
    """The last finished outcome (ok or failed) of each schema, over every run (DISTINCT ON)."""
    qs = (ReleaseOutcome.objects.exclude(status=ReleaseOutcome.Status.PENDING).select_related("run")
          .order_by("schema_name", "-finished_at", "-id").distinct("schema_name"))
    if schemas is not None:
        qs = qs.filter(schema_name__in=schemas)
    return {o.schema_name: o for o in qs}


def report(*, only: str = "") -> list[ReportRow]:
    """Every district schema (spares included), with its migration state and last outcome; ``only``
    "behind" or "failed" narrows it. Failed first, then behind, then by schema name."""
    connection.set_schema_to_public()
    districts = {d.schema_name: d for d in District.objects.exclude(schema_name="public").select_related("vendor")}
    schemas = sorted(districts)
    states = schema_states(schemas)
    outcomes = last_outcomes(schemas)
    rows = [ReportRow(s, districts[s], states.get(s), outcomes.get(s)) for s in schemas]
    if only == "behind":
        rows = [r for r in rows if r.behind]
    elif only == "failed":
        rows = [r for r in rows if r.failed]
    return sorted(rows, key=lambda r: (not r.failed, not r.behind, r.is_spare, r.schema_name))


def summary(rows: list[ReportRow]) -> dict[str, int]:
    return {"schemas": len(rows), "behind": sum(r.behind for r in rows), "failed": sum(r.failed for r in rows),
            "current": sum(not r.behind and not r.failed for r in rows)}


def runs() -> QuerySet:
    return ReleaseRun.objects.select_related("actor").order_by("-created_at", "-id")


def latest_run() -> ReleaseRun | None:
    return runs().filter(kind=ReleaseRun.Kind.ALL).first()
