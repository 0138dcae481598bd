"""Environment: 12-factor settings helpers and the embedded PostgreSQL for newcomers.

With no ``DATABASE_URL`` the platform starts an embedded PostgreSQL (the ``pgserver`` package)
with its data under ``.pgdata/`` (git-ignored) and exports ``DATABASE_URL`` so that every child
process (Celery worker, test worker) uses the same server.
"""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def ensure_database() -> str:
    """Return DATABASE_URL, starting the embedded PostgreSQL if none is configured."""
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    import logging
    import warnings

    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    import pgserver  # imported lazily: only newcomers without a server need it

    pgdata = Path(os.environ.get("MASHANG_PGDATA", ROOT / ".pgdata"))
    pgdata.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pgdata, cleanup_mode=None)  # keeps running for the next command
    existing = server.psql("SELECT datname FROM pg_database WHERE datname = 'mashang';")
    if "mashang" not in existing:
        server.psql("CREATE DATABASE mashang;")
    url = server.get_uri("mashang")
    os.environ["DATABASE_URL"] = url
    return url
