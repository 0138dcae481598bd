"""pg_dump / pg_restore for one district's schema, and the scratch database a restore renames in.

Connection parameters come from the Django connection's settings (DATABASES["default"], the test
database under pytest); the password goes to the child process in ``PGPASSWORD``, never on its
command line (where ``ps`` shows it). The client binaries are taken from settings.PG_BIN_DIR when
set (e.g. /usr/lib/postgresql/15/bin), else from PATH: they must match the server's major version."""
from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connections

SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class PgToolError(RuntimeError):
    """pg_dump / pg_restore / psql failed: the message holds its stderr (no password is ever in it)."""


def _binary(name: str) -> str:
    folder = getattr(settings, "PG_BIN_DIR", "") or os.environ.get("PG_BIN_DIR", "")
    path = str(Path(folder) / name) if folder else shutil.which(name)
    if not path or not Path(path).exists():
        raise PgToolError(f"{name} not found: install the PostgreSQL client matching the server, or set PG_BIN_DIR")
    return path


def _params(dbname: str | None = None) -> tuple[list[str], dict]:
    s = connections["default"].settings_dict
    args = []
    if s.get("HOST"):
        args += ["--host", str(s["HOST"])]
    if s.get("PORT"):
        args += ["--port", str(s["PORT"])]
    if s.get("USER"):
        args += ["--username", str(s["USER"])]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["PGCONNECT_TIMEOUT"] = "10"
    if s.get("PASSWORD"):
        env["PGPASSWORD"] = str(s["PASSWORD"])
    args += ["--no-password", "--dbname", dbname or s["NAME"]]
    return args, env


def check_schema_name(name: str) -> str:
    if not SCHEMA_NAME.match(name or ""):
        raise ValueError(f"not a schema name: {name!r}")
    return name


def _run(cmd: list[str], env: dict) -> None:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)  # noqa: S603 - no shell
    if done.returncode != 0:
        raise PgToolError(f"{Path(cmd[0]).name} failed ({done.returncode}): {done.stderr.strip()[-1500:]}")


def dump_schema(schema: str, out: Path, *, dbname: str | None = None, snapshot: str | None = None) -> None:
    """``pg_dump --schema=<schema> -Fc`` into ``out`` (owner and grants left out: a restore belongs to
    whoever restores it). ``snapshot``: an exported snapshot to dump (the row counts read in it)."""
    args, env = _params(dbname)
    cmd = [_binary("pg_dump"), f"--schema={check_schema_name(schema)}", "--format=custom", "--no-owner",
           "--no-privileges", "--file", str(out), *args]
    if snapshot:
        cmd.insert(2, f"--snapshot={snapshot}")
    _run(cmd, env)


def restore_dump(dump: Path, *, dbname: str | None = None) -> None:
    """``pg_restore`` of a custom-format dump into ``dbname`` (default: the main database), in one
    transaction: it succeeds whole or leaves nothing."""
    args, env = _params(dbname)
    _run([_binary("pg_restore"), "--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error",
          *args, str(dump)], env)


def _admin_connection():
    """A connection of its own in autocommit (CREATE / DROP DATABASE cannot run in a transaction)."""
    return _connect(autocommit=True)


@contextmanager
def scratch_database():
    """A database of its own, created for one restore and dropped after it (even when it failed)."""
    name = f"{connections['default'].settings_dict['NAME'][:40]}_restore_{secrets.token_hex(4)}"
    with _admin_connection() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with _admin_connection() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def rename_schema_in(dbname: str, old: str, new: str) -> None:
    with _connect(dbname) as conn:
        conn.execute(f'ALTER SCHEMA "{check_schema_name(old)}" RENAME TO "{check_schema_name(new)}"')


def _connect(dbname: str | None = None, *, autocommit: bool = False):
    import psycopg

    s = connections["default"].settings_dict
    kwargs = {k: v for k, v in {"host": s.get("HOST"), "port": s.get("PORT"), "user": s.get("USER"),
                                "password": s.get("PASSWORD")}.items() if v}
    return psycopg.connect(connect_timeout=10, dbname=dbname or s["NAME"], autocommit=autocommit, **kwargs)


def table_counts(cursor, schema: str) -> dict[str, int]:
    """Rows of every table of ``schema`` (as the cursor's transaction sees them)."""
    cursor.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
                   "AND table_type = 'BASE TABLE' ORDER BY 1", [schema])
    tables = [row[0] for row in cursor.fetchall()]
    counts = {}
    for table in tables:
        cursor.execute(f'SELECT count(*) FROM "{check_schema_name(schema)}"."{table}"')  # noqa: S608 - catalog names
        counts[table] = cursor.fetchone()[0]
    return counts


@contextmanager
def frozen(schema: str):
    """A repeatable-read snapshot of the database, held open while the block runs: yields (snapshot id
    for ``pg_dump --snapshot``, {table: rows} of ``schema``, [[app, migration], …] applied there), all
    read in that one snapshot, so the counts are exactly what the dump holds."""
    import psycopg

    with _connect() as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.cursor() as cursor:
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
            counts = table_counts(cursor, schema)
            cursor.execute(f'SELECT app, name FROM "{check_schema_name(schema)}".django_migrations ORDER BY 1, 2')  # noqa: S608
            applied = [list(row) for row in cursor.fetchall()]
        yield snapshot, counts, applied
        conn.rollback()
