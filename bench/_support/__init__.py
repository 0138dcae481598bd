"""Plumbing shared by the benchmark scripts in ``bench/`` (a folder, so ``make bench``'s
``bench/*.py`` loop does not run it as a benchmark).

- ``setup_django()``: the same bootstrap as ``manage.py`` (paths, settings, embedded PostgreSQL when
  there is no ``DATABASE_URL``), then ``migrate_schemas --shared`` so the public schema is current.
- ``figure()``: one JSON line on the real stdout. Everything else (logs, migration output) goes to
  stderr: ``quiet_stdout()`` points ``sys.stdout`` at stderr while the benchmark works.
- ``bench_slug()`` / ``drop_district()``: throwaway districts named ``bench-<random>``, dropped at
  the end (Domain rows, District row, ``DROP SCHEMA ... CASCADE``).
- ``size(default, smoke, env=…)``: how big a benchmark runs. ``BENCH_SMOKE=1`` (what ``make
  bench-smoke`` sets) picks the tiny ``smoke`` size, so every benchmark runs in seconds and cannot rot
  unnoticed; an explicit ``env`` variable (``BENCH_N=…``) wins over both.
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_REAL_STDOUT = sys.stdout


def smoke() -> bool:
    """True under ``BENCH_SMOKE=1``: run at tiny sizes, to check that the benchmark works, not to measure."""
    return os.environ.get("BENCH_SMOKE", "").strip().lower() not in ("", "0", "false", "no")


def size(default: int, smoke_size: int, *, env: str | None = None) -> int:
    """The size to run at: ``$env`` when set, else ``smoke_size`` under BENCH_SMOKE=1, else ``default``."""
    if env and os.environ.get(env, "").strip():
        return int(os.environ[env])
    return smoke_size if smoke() else default


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def figure(name: str, value, unit: str, goal: str | None = None) -> None:
    line = json.dumps({"figure": name, "value": value, "unit": unit, "goal": goal}, ensure_ascii=False)
    _REAL_STDOUT.write(line + "\n")
    _REAL_STDOUT.flush()


@contextlib.contextmanager
def quiet_stdout():
    """Anything printed while benchmarking (migrations, libraries) goes to stderr, not between figures."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


def setup_django(*, migrate_shared: bool = True) -> None:
    os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
    for entry in (ROOT / "platform", ROOT):
        if str(entry) not in sys.path:
            sys.path.insert(1, str(entry))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from config.env import ensure_database

    ensure_database()
    import django

    django.setup()
    if migrate_shared:
        from django.core.management import call_command

        with quiet_stdout():
            call_command("migrate_schemas", "--shared", verbosity=0, interactive=False)


def bench_slug() -> str:
    return f"bench-{secrets.token_hex(4)}"


def drop_district(*, slug: str | None = None, schema_name: str | None = None) -> None:
    """Remove a throwaway district completely: its Domain rows, its District row and its schema.

    Finds it by slug (a bench district, whether it came from the pool or from migrations, and even if
    its creation failed half-way) or by schema name (a spare the benchmark added)."""
    from django.db import connection
    from django_tenants.utils import get_public_schema_name

    from tenants.models import District, Domain
    from tenants.services import schema_name_for

    # Only ever touch what a benchmark makes: bench-* districts and spare_* schemas.
    if slug and not slug.startswith("bench-"):
        raise ValueError(f"refusing to drop {slug!r}: not a bench district")
    if schema_name and not schema_name.startswith(("d_bench_", "spare_")):
        raise ValueError(f"refusing to drop schema {schema_name!r}: not made by a benchmark")
    connection.set_schema_to_public()
    schemas = set()
    if slug:
        schemas.add(schema_name_for(slug))
        districts = District.objects.filter(slug=slug)
    else:
        districts = District.objects.filter(schema_name=schema_name)
    if schema_name:
        schemas.add(schema_name)
    for district in districts:
        schemas.add(district.schema_name)
        Domain.objects.filter(tenant=district).delete()
        District.objects.filter(pk=district.pk).delete()
    schemas.discard(get_public_schema_name())
    with connection.cursor() as cursor:
        for schema in schemas:
            cursor.execute(f"DROP SCHEMA IF EXISTS {connection.ops.quote_name(schema)} CASCADE")
    import shutil
    from pathlib import Path

    from django.conf import settings

    for schema in schemas:  # and its uploaded files (media/<schema>/...)
        shutil.rmtree(Path(settings.MEDIA_ROOT) / schema, ignore_errors=True)
