"""``make bench-smoke``: every ``bench/*.py`` at tiny sizes, each checked to print its figures.

Each benchmark runs as its own process, as ``make bench`` runs it, with ``BENCH_SMOKE=1`` (it picks
tiny sizes through ``_support.size``), in a throwaway database made for this run and dropped at the
end, with its own Celery queue (dropped too): the run never meets a developer's data, worker or
another run. A benchmark passes when it exits 0 and its stdout is figures only, at least one: each
line one JSON object with exactly the keys ``figure`` (a name), ``value`` (a number), ``unit`` (a
string) and ``goal`` (a string or null).
Its stderr is shown when it fails. This checks that the benchmarks work, not how fast anything is.

    .venv/bin/python bench/_support/smoke.py                 # every bench/*.py
    .venv/bin/python bench/_support/smoke.py sla_sweep.py    # some of them
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BENCH = Path(__file__).resolve().parents[1]
ROOT = BENCH.parent
TIMEOUT_SECONDS = int(os.environ.get("BENCH_SMOKE_TIMEOUT", "300"))  # per benchmark


def check_figures(stdout: str) -> list[str]:
    """What is wrong with a benchmark's stdout (empty when it is figures only, at least one)."""
    problems, figures = [], 0
    for number, line in enumerate(stdout.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            problems.append(f"stdout line {number} is not JSON: {line[:120]!r}")
            continue
        if not isinstance(row, dict) or set(row) != {"figure", "value", "unit", "goal"}:
            problems.append(f"stdout line {number} is not a figure (keys figure, value, unit, goal): {line[:120]}")
        elif not (isinstance(row["figure"], str) and row["figure"]):
            problems.append(f"stdout line {number}: figure must be a name: {line[:120]}")
        elif isinstance(row["value"], bool) or not isinstance(row["value"], int | float) \
                or not math.isfinite(row["value"]):
            problems.append(f"stdout line {number}: value must be a number: {line[:120]}")
        elif not isinstance(row["unit"], str) or not (row["goal"] is None or isinstance(row["goal"], str)):
            problems.append(f"stdout line {number}: unit must be a string, goal a string or null: {line[:120]}")
        else:
            figures += 1
    if not figures:
        problems.append("no figure on stdout")
    return problems


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _admin_connection(url: str):
    import psycopg

    return psycopg.connect(url, dbname="postgres", autocommit=True)


def _forget_queue(queue: str) -> None:
    """Drop the run's Celery queue (nobody consumes it) from Redis, when Redis is the broker."""
    url = os.environ.get("CELERY_BROKER_URL") or os.environ.get("REDIS_URL")
    if not url or not url.startswith(("redis://", "rediss://")):
        return
    import redis

    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{queue}*", count=1000))  # the queue and its priority lists
    if keys:
        client.delete(*keys)


def main(argv: list[str]) -> int:
    sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]
    os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
    from config.env import ensure_database  # the embedded PostgreSQL when DATABASE_URL is unset

    base = ensure_database()
    database = f"mashang_bench_smoke_{os.getpid()}"
    scripts = [BENCH / name for name in argv] if argv else sorted(BENCH.glob("*.py"))
    env = {**os.environ, "BENCH_SMOKE": "1", "DATABASE_URL": _with_database(base, database),
           "CACHE_KEY_PREFIX": database, "MASHANG_RUN_DIR": str(ROOT / ".run" / database),
           "CELERY_QUEUE": database,  # tasks the benchmarks queue never reach a developer's worker
           "PYTHONUNBUFFERED": "1", "DISTRICT_POOL_SIZE": "0"}  # no pool to keep: fewer migration replays
    for size_knob in [k for k in env if k.startswith("BENCH_") and k not in ("BENCH_SMOKE", "BENCH_SMOKE_TIMEOUT")]:
        del env[size_knob]  # tiny sizes come from BENCH_SMOKE alone
    with _admin_connection(base) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    print(f"bench-smoke: {len(scripts)} benchmarks, BENCH_SMOKE=1, database {database}", flush=True)
    failed, started = [], time.perf_counter()
    try:
        for script in scripts:
            t = time.perf_counter()
            try:
                done = subprocess.run([sys.executable, str(script)], cwd=ROOT, env=env, capture_output=True,
                                      text=True, timeout=TIMEOUT_SECONDS)
                problems = [] if done.returncode == 0 else [f"exit status {done.returncode}"]
                problems += check_figures(done.stdout) if done.returncode == 0 else []
                stderr = done.stderr
                figures = sum(1 for line in done.stdout.splitlines() if line.strip())
            except subprocess.TimeoutExpired as exc:
                problems, figures = [f"still running after {TIMEOUT_SECONDS} s"], 0
                stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
            seconds = time.perf_counter() - t
            if problems:
                failed.append(script.name)
                print(f"FAIL {script.name} ({seconds:.1f} s): {'; '.join(problems)}", flush=True)
                print("  | " + "\n  | ".join(stderr.strip().splitlines()[-40:]), flush=True)
            else:
                print(f"ok   {script.name} ({seconds:.1f} s, {figures} figures)", flush=True)
    finally:
        with _admin_connection(base) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        import shutil

        shutil.rmtree(ROOT / ".run" / database, ignore_errors=True)
        _forget_queue(database)
    total = time.perf_counter() - started
    if failed:
        print(f"bench-smoke: {len(failed)} of {len(scripts)} failed in {total:.0f} s: {', '.join(failed)}")
        return 1
    print(f"bench-smoke: all {len(scripts)} printed their figures in {total:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
