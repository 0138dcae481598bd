"""A release over many districts: seconds to bring N district schemas through ONE new migration, serial
vs parallel.

Run: ``.venv/bin/python bench/migrate_all.py`` (``BENCH_N`` districts, default 100; smoke 3;
``BENCH_PROCESSES`` parallel workers, default the machine's cores).

What is measured, and why it is honest:

- **A database of its own.** ``migrate_schemas`` migrates every tenant of a database, so the bench
  never runs on a developer's: it creates ``mashang_bench_migrate_<pid>`` on the same server, migrates
  its public schema, and drops it at the end (even after a failure).
- **N real district schemas.** One spare schema is built by replaying every migration
  (``tenants.services.add_spare``: the real tables, indexes, constraints and ``django_migrations``
  rows), then cloned N times: ``pg_dump --schema`` of it once, the schema name rewritten, the script run
  once per clone (pg_dump keeps every constraint and index name, unlike django-tenants'
  ``clone_schema``; see DESIGN "Known traps"). Each clone gets its District and Domain rows. Not timed.
- **One new migration of a real app, added at run time without touching the code.** The ``notices``
  app's migrations are copied into a temporary package, with one more migration after its leaf
  (``0002_bench_release``: an expand step as docs/releases.md asks — a nullable column and an index on
  ``notices_notice``), and ``MIGRATION_MODULES = {"notices": <that package>}`` is set (inherited by the
  forked workers). The real ``modules/notices/migrations`` is never written.
- **Only the migrate step is timed**, three ways, each from the same starting point (the migration is
  taken back in every schema between them, untimed); 1 and 2 in ``BENCH_ROUNDS`` rounds (default 2),
  alternating which goes first (the figures are the means: on this shared machine the first pass of a
  run was often the fastest, whichever executor it was):
  1. serial: ``migrate_schemas --tenant --executor=standard`` (django-tenants, one schema after another);
  2. parallel: ``migrate_schemas --tenant --executor=multiprocessing`` with ``BENCH_PROCESSES`` workers;
  3. ``manage.py migrate_all`` (tenants/releases): shared first, then each schema caught on its own in
     the same fork pool, with each outcome and the state afterwards recorded.
  After each, every bench schema must have the migration recorded and the new column present.

Figures are JSON lines on stdout, logs on stderr. The machine is shared: compare figures of one run,
and read them with ``migrate_all_load_average`` (the 5-minute load average after the timed rounds):
parallel workers only help when there are idle cores to run them.
"""
from __future__ import annotations

import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from _support import ROOT, figure, log, quiet_stdout, size

APP, LABEL = "modules.notices", "notices"
NEW_MIGRATION = "0002_bench_release"


def _database_url(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def _admin(url: str):
    import psycopg

    return psycopg.connect(url, dbname="postgres", autocommit=True)


def write_migrations(folder: Path) -> str:
    """A package holding a copy of the notices migrations plus the new one; returns its module name."""
    package = f"bench_release_{secrets.token_hex(3)}"
    target = folder / package / LABEL
    shutil.copytree(ROOT / "modules" / LABEL / "migrations", target, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / package / "__init__.py").write_text("")
    leaf = sorted(p.stem for p in target.glob("0*.py"))[-1]
    (target / f"{NEW_MIGRATION}.py").write_text(f'''from django.db import migrations, models


class Migration(migrations.Migration):
    """Expand: a nullable column old code ignores, and an index (bench/migrate_all.py)."""

    dependencies = [("{LABEL}", "{leaf}")]

    operations = [
        migrations.AddField("notice", "summary", models.CharField(max_length=200, null=True, blank=True)),
        migrations.AddIndex("notice", models.Index(fields=["category", "published_at"], name="notice_cat_pub_bench")),
    ]
''')
    sys.path.insert(0, str(folder))
    return f"{package}.{LABEL}"


def clone(template: str, names: list[str]) -> None:
    """``names`` as copies of schema ``template`` (pg_dump once, rewritten per name)."""
    from django.db import connection

    params = connection.get_connection_params()
    env = {**os.environ, "PGPASSWORD": str(params.get("password") or "")}
    argv = [shutil.which("pg_dump") or "pg_dump", "--schema", template, "--no-owner", "--no-privileges",
            "--inserts", "-d", params["dbname"], "-U", params.get("user") or "postgres"]
    if params.get("host"):
        argv += ["-h", params["host"]]
    if params.get("port"):
        argv += ["-p", str(params["port"])]
    dump = subprocess.run(argv, env=env, check=True, capture_output=True, text=True).stdout
    script = "\n".join(line for line in dump.splitlines()
                       if not line.startswith(("SET ", "SELECT pg_catalog.set_config", "--", "\\")))  # psql meta-commands (\\restrict)
    import psycopg

    keep = {k: v for k, v in params.items() if k in ("dbname", "user", "password", "host", "port")}
    with psycopg.connect(autocommit=False, **keep) as own:
        for name in names:
            own.execute(script.replace(template, name).encode())
            own.commit()


def migrated(schemas: list[str]) -> int:
    """How many of ``schemas`` have the new migration recorded and its column present."""
    from django.db import connection

    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(
            f"SELECT 1 FROM {qn(s)}.django_migrations WHERE app = %s AND name = %s" for s in schemas),  # noqa: S608
            [x for _ in schemas for x in (LABEL, NEW_MIGRATION)])
        recorded = len(cursor.fetchall())
        cursor.execute("SELECT count(*) FROM information_schema.columns WHERE table_schema = ANY(%s) "
                       "AND table_name = 'notices_notice' AND column_name = 'summary'", [schemas])
        columns = cursor.fetchone()[0]
    return min(recorded, columns)


def main() -> int:
    n = size(100, 3, env="BENCH_N")
    processes = size(os.cpu_count() or 2, 2, env="BENCH_PROCESSES")
    os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
    for entry in (ROOT / "platform", ROOT):
        if str(entry) not in sys.path:
            sys.path.insert(1, str(entry))
    from config.env import ensure_database

    base = ensure_database()
    database = f"mashang_bench_migrate_{os.getpid()}"
    with _admin(base) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    os.environ.update(DATABASE_URL=_database_url(base, database), DISTRICT_POOL_SIZE="0",
                      CACHE_KEY_PREFIX=database)
    folder = Path(tempfile.mkdtemp(prefix="bench-migrate-"))
    try:
        return run(n, processes, folder, size(2, 1, env="BENCH_ROUNDS"))
    finally:
        from django.db import connections

        connections.close_all()
        with _admin(base) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        shutil.rmtree(folder, ignore_errors=True)
        log(f"dropped database {database}")


def _migrate(executor: str, processes: int, *target: str) -> float:
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import override_settings

    with override_settings(TENANT_MULTIPROCESSING_MAX_PROCESSES=processes, TENANT_MULTIPROCESSING_CHUNKS=1):
        started = time.perf_counter()
        call_command("migrate_schemas", *target, tenant=True, executor=executor, interactive=False, verbosity=0)
        seconds = time.perf_counter() - started
    connection.set_schema_to_public()
    return seconds


def run(n: int, processes: int, folder: Path, rounds_count: int) -> int:
    from _support import setup_django

    with quiet_stdout():
        setup_django()  # and migrate_schemas --shared into the bench database
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import override_settings

    from tenants.models import District, Domain
    from tenants.services import add_spare

    both = ("standard", "multiprocessing")
    rounds = [both if i % 2 == 0 else both[::-1] for i in range(rounds_count)]
    with quiet_stdout():
        started = time.perf_counter()
        template = add_spare()
        log(f"template schema {template.schema_name} by migrations: {time.perf_counter() - started:.1f}s")
        names = [f"d_bench_{i:03d}" for i in range(n)]
        started = time.perf_counter()
        clone(template.schema_name, names)
        connection.set_schema_to_public()
        District.objects.filter(pk=template.pk).delete()  # only the clones are migrated
        with connection.cursor() as cursor:
            cursor.execute(f"DROP SCHEMA {template.schema_name} CASCADE")
        made = District.objects.bulk_create([
            District(schema_name=s, slug=s[2:].replace("_", "-"), name_zh=f"基准{s[-3:]}区", status="active")
            for s in names])
        Domain.objects.bulk_create([Domain(domain=f"{d.slug}.bench.localhost", tenant=d, is_primary=True) for d in made])
        log(f"{n} district schemas cloned in {time.perf_counter() - started:.1f}s (not timed)")

        module = write_migrations(folder)
        with override_settings(MIGRATION_MODULES={LABEL: module}):
            from tenants.releases import selectors

            selectors._graph.cache_clear()
            selectors._app_order.cache_clear()
            timings: dict[str, list[float]] = {"standard": [], "multiprocessing": []}
            for order in rounds:  # serial, parallel / parallel, serial, ...: order effects cancel out
                for executor in order:
                    assert migrated(names) == 0
                    seconds = _migrate(executor, processes if executor == "multiprocessing" else 1)
                    assert migrated(names) == n, f"{executor}: not every schema got the migration"
                    log(f"{executor} executor: {seconds:.2f}s")
                    timings[executor].append(seconds)
                    _migrate("multiprocessing", processes, LABEL, "0001_initial")  # back, untimed
            serial, parallel = statistics.fmean(timings["standard"]), statistics.fmean(timings["multiprocessing"])
            load = os.getloadavg()[1]  # the machine's 5-minute load while the rounds ran (2 cores here)
            assert migrated(names) == 0
            started = time.perf_counter()
            call_command("migrate_all", executor="multiprocessing", processes=processes)
            recorded = time.perf_counter() - started
            connection.set_schema_to_public()
            assert migrated(names) == n, "migrate_all: not every schema got the migration"
            from tenants.releases.models import ReleaseRun

            run = ReleaseRun.objects.latest("pk")
            assert run.ok == n and run.failed == 0, (run.ok, run.failed)
            log(f"migrate_all (recorded, shared first, {processes} processes): {recorded:.1f}s; "
                f"slowest schema {max(run.outcomes.values_list('seconds', flat=True)):.2f}s")

    figure("migrate_all_districts", n, "districts")
    figure("migrate_all_rounds", len(rounds), "rounds")
    figure("migrate_all_serial_seconds", round(serial, 2), "s")
    figure("migrate_all_parallel_seconds", round(parallel, 2), "s")
    figure("migrate_all_parallel_processes", processes, "processes")
    figure("migrate_all_speedup", round(serial / parallel, 2), "x")
    figure("migrate_all_seconds_per_district_parallel", round(parallel / n, 3), "s")
    figure("migrate_all_recorded_seconds", round(recorded, 2), "s")
    figure("migrate_all_load_average", round(load, 2), "load")
    return 0


if __name__ == "__main__":
    sys.exit(main())
