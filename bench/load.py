"""Mixed load: the peak of ten Kangbashi-sized districts on the deployed web server.

Run: ``.venv/bin/python bench/load.py`` (``BENCH_DISTRICTS=10``, ``BENCH_SECONDS=30`` of load after
``BENCH_WARMUP=5`` s, ``BENCH_CONNECTIONS=16`` open connections over ``BENCH_THREADS=2`` wrk threads,
``BENCH_WORKERS`` server processes, default as deployed: two per core). ``BENCH_SMOKE=1``: 2 districts,
3 s of load (what ``make bench-smoke`` runs).

``BENCH_DISTRICTS`` throwaway districts seeded like the Kangbashi demo (``_support/load_world.py``),
the web server as deployed (gunicorn with ``infra/gunicorn.conf.py``, sync workers, throttles running
with their rates lifted through the environment), and the load generator in its own process: Debian's
``wrk`` with ``_support/load.lua``, replaying a shuffled plan of 4,000 requests of the resident and
staff mix (``load_world.MIX``) over every district's host. Connections are closed by the server after
each answer (sync workers), as behind nginx.

Figures: requests/s, latency percentiles and errors as wrk saw them, and the CPU time per request of
the server processes and of this database's PostgreSQL backends (/proc): the rate depends on what
else the machine is doing, the CPU cost much less.
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from _support import ROOT, bench_slug, drop_district, figure, log, quiet_stdout, setup_django
from _support.load_world import MIX, plan, seed_district
from case_intake import children, cpu_seconds, free_port, start_server, stop_server

SMOKE = os.environ.get("BENCH_SMOKE") == "1"
LUA = ROOT / "bench" / "_support" / "load.lua"


def lua_string(raw: bytes) -> str:
    """A Lua string literal holding exactly these bytes."""
    out = []
    for b in raw:
        ch = chr(b)
        if b < 128 and ch.isalnum() or ch in " /:.-_,;=?&{}[]()*+!@#$%^~|<>'":
            out.append(ch)
        else:
            out.append(f"\\{b:03d}")
    return '"' + "".join(out) + '"'


def raw_request(r: dict) -> bytes:
    body = r["body"].encode()
    lines = [f"{r['method']} {r['path']} HTTP/1.1"] + [f"{k}: {v}" for k, v in r["headers"].items()]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def backend_pids(dbname: str) -> list[int]:
    """PostgreSQL backends connected to this database (the web workers' persistent connections)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid() "
                       "AND backend_type = 'client backend'", [dbname])  # not autovacuum after the seed
        return [row[0] for row in cursor.fetchall()]


class Sampler:
    """CPU time used by a changing set of processes during the run: the set is listed every 0.2 s, and
    a process first seen after the start counts from zero (a gunicorn worker replaced after
    max_requests, a database connection reopened after CONN_MAX_AGE). A process that ends between two
    samples loses its last 0.2 s."""

    def __init__(self, list_pids):
        import threading

        self.list_pids, self.first, self.last = list_pids, {}, {}
        self.stopping, self.thread = threading.Event(), threading.Thread(target=self._run, daemon=True)

    def _sample(self, *, initial=False):
        for pid in self.list_pids():
            value = cpu_seconds([pid])
            if initial:
                self.first[pid] = value
            if value or pid not in self.last:
                self.last[pid] = value

    def _run(self):
        from django.db import connection

        while not self.stopping.wait(0.2):
            self._sample()
        connection.close()  # this thread's own, if it opened one

    def start(self):
        self._sample(initial=True)
        self.thread.start()

    def stop(self) -> float:
        self.stopping.set()
        self.thread.join()
        self._sample()
        return sum(value - self.first.get(pid, 0.0) for pid, value in self.last.items())


def run_wrk(port: int, plan_file: Path, *, seconds: int, threads: int, connections: int) -> dict:
    args = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s",
            "-s", str(LUA), f"http://127.0.0.1:{port}/"]
    done = subprocess.run(args, env={**os.environ, "LOAD_PLAN": str(plan_file)}, capture_output=True, text=True,
                          timeout=seconds + 60)
    found = re.search(r"^LOAD_RESULT (.*)$", done.stdout, re.M)
    if done.returncode or not found:
        raise SystemExit(f"wrk failed ({done.returncode}): {done.stdout[-2000:]} {done.stderr[-2000:]}")
    log(done.stdout.replace(found.group(0), "").strip())
    return json.loads(found.group(1))


def start_py_spy(pid: int, seconds: int):
    """``BENCH_PYSPY=<file>``: py-spy samples every server process during the run (collapsed stacks,
    ``--format raw``: one line a stack with its count; flamegraph.pl or speedscope read it). More py-spy
    arguments in ``BENCH_PYSPY_ARGS`` (``--gil``: only samples holding the GIL, i.e. Python's CPU)."""
    out = os.environ.get("BENCH_PYSPY")
    if not out:
        return None
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    return subprocess.Popen([spy, "record", "--pid", str(pid), "--subprocesses", "--nonblocking", "--format", "raw",
                             "--rate", "50", "--duration", str(seconds), "--output", out,
                             *os.environ.get("BENCH_PYSPY_ARGS", "").split()],
                            stdout=sys.stderr, stderr=sys.stderr)


def check_each_kind(port: int, requests: list[dict]) -> None:
    """One request of every kind, answers checked (2xx/3xx), before the clock: a broken endpoint fails here."""
    import http.client

    seen = set()
    for r in requests:
        if r["name"] in seen:
            continue
        seen.add(r["name"])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request(r["method"], r["path"], body=r["body"].encode() or None, headers=r["headers"])
        response = conn.getresponse()
        content = response.read()
        conn.close()
        if response.status >= 400:
            raise SystemExit(f"{r['name']} {r['method']} {r['path']}: {response.status} {content[:400]!r}")
        log(f"  {r['name']:<12} {r['method']:<4} {r['path']:<28} {response.status} {len(content)} bytes")
    missing = {name for name, _s, _w in MIX} - seen
    if missing:
        raise SystemExit(f"the plan has no request of {sorted(missing)}")


def _seed_one(slug: str, residents: int):
    with quiet_stdout():
        return seed_district(slug, residents=residents, ledger=not SMOKE)


def seed_all(slugs: list[str], *, residents: int, jobs: int) -> list:
    """Seed the districts, ``jobs`` at a time in forked processes (each opens its own connection).

    Passwords of the seeded demo people are hashed with MD5 here (the load signs in with tokens, and a
    PBKDF2 hash of each demo person's password was a quarter of a district's seed time)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from django.db import connections
    from django.test.utils import override_settings

    override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]).enable()
    if jobs <= 1:
        return [_seed_one(slug, residents) for slug in slugs]
    connections.close_all()  # not shared with the children
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork")) as pool:
        return list(pool.map(_seed_one, slugs, [residents] * len(slugs)))


def main() -> int:
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    n_districts = int(os.environ.get("BENCH_DISTRICTS", "2" if SMOKE else "10"))
    seconds = int(os.environ.get("BENCH_SECONDS", "3" if SMOKE else "30"))
    warmup = int(os.environ.get("BENCH_WARMUP", "1" if SMOKE else "5"))
    connections = int(os.environ.get("BENCH_CONNECTIONS", "16"))
    threads = int(os.environ.get("BENCH_THREADS", "2"))
    workers = int(os.environ.get("BENCH_WORKERS", str(2 * len(os.sched_getaffinity(0)))))
    residents = int(os.environ.get("BENCH_RESIDENTS", "5" if SMOKE else "20"))
    jobs = int(os.environ.get("BENCH_SEED_JOBS", str(len(os.sched_getaffinity(0)))))
    setup_django()
    from django.db import connection

    reuse, keep = os.environ.get("BENCH_WORLD"), os.environ.get("BENCH_KEEP")
    if reuse:
        from _support.load_world import DistrictWorld

        with open(reuse) as f:
            worlds = [DistrictWorld(**w) for w in json.load(f)]
        slugs = [w.slug for w in worlds]
    else:
        slugs = [bench_slug() for _ in range(n_districts)]
    server = None
    tmp = Path(tempfile.mkdtemp(prefix="bench-load-"))
    try:
        if not reuse:
            worlds = seed_all(slugs, residents=residents, jobs=jobs)
        if keep:
            with open(keep, "w") as f:
                json.dump([dataclasses.asdict(w) for w in worlds], f)
        for slug, world in zip(slugs, worlds, strict=True):
            log(f"{slug} at {world.host}: " + ", ".join(f"{k} {v:.1f}s" for k, v in world.seconds.items())
                + f"; {len(world.resident_tokens)} residents, staff cases {[len(c) for _t, c in world.staff]}")
        requests = plan(worlds, n=4000)
        plan_file = tmp / "plan.lua"
        plan_file.write_text("return {\n" + ",\n".join(lua_string(raw_request(r)) for r in requests) + "\n}\n")

        port = free_port()
        server = start_server(port, workers)
        check_each_kind(port, requests)
        run_wrk(port, plan_file, seconds=warmup, threads=threads, connections=connections)  # every worker warm

        dbname = connection.settings_dict["NAME"]
        web = Sampler(lambda: [server.pid, *children(server.pid)])
        db = Sampler(lambda: backend_pids(dbname))
        client_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        spy = start_py_spy(server.pid, seconds)
        web.start(), db.start()
        result = run_wrk(port, plan_file, seconds=seconds, threads=threads, connections=connections)
        cpu_web, cpu_db = web.stop(), db.stop()
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk's (py-spy is reaped after)
        if spy is not None:
            spy.wait(60)
        cpu_client = (usage.ru_utime + usage.ru_stime) - (client_before.ru_utime + client_before.ru_stime)
        stop_server(server)
        server = None
    finally:
        if server is not None:
            stop_server(server)
        shutil.rmtree(tmp, ignore_errors=True)
        if not keep and not reuse or keep and reuse:  # kept for a later run, until one gives both
            with quiet_stdout():
                connection.set_schema_to_public()
                for slug in slugs:
                    drop_district(slug=slug)
                log(f"dropped {', '.join(slugs)}")

    total = result["requests"]
    wall = result["duration_us"] / 1e6
    errors = (result["s4xx"] + result["s5xx"] + result["sother"] + result["connect"] + result["read"]
              + result["write"] + result["timeout"])
    log(f"{total} requests in {wall:.1f}s over {len(slugs)} districts, {connections} connections, "
        f"{workers} server processes: 2xx {result['s2xx']}, 3xx {result['s3xx']}, 4xx {result['s4xx']}, "
        f"5xx {result['s5xx']}; socket errors connect {result['connect']} read {result['read']} "
        f"write {result['write']} timeout {result['timeout']}")
    if result["bad"]:
        log(f"first bad answers: {result['bad']}")
    per = {name: value / max(total, 1) * 1e3 for name, value in
           (("web", cpu_web), ("db", cpu_db), ("client", cpu_client))}
    cores = len(os.sched_getaffinity(0))
    bound = cores * 1e3 / max(sum(per.values()), 1e-9)
    log("CPU per request: " + ", ".join(f"{k} {v:.2f} ms" for k, v in per.items())
        + f"; {cores} cores: at most {bound:.0f} requests/s if this machine did nothing else")
    figure("load_requests_per_second", round(total / wall, 1), "req/s", ">= 300")
    figure("load_latency_p50_ms", round(result["p50_us"] / 1e3, 1), "ms")
    figure("load_latency_p95_ms", round(result["p95_us"] / 1e3, 1), "ms")
    figure("load_latency_p99_ms", round(result["p99_us"] / 1e3, 1), "ms", "< 250")
    figure("load_errors", errors, "requests", "0")
    figure("load_districts", len(slugs), "districts")
    figure("load_web_cpu_ms_per_request", round(per["web"], 2), "ms")
    figure("load_db_cpu_ms_per_request", round(per["db"], 2), "ms")
    figure("load_client_cpu_ms_per_request", round(per["client"], 2), "ms")
    figure("load_cpu_bound_requests_per_second", round(bound, 1), "req/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
