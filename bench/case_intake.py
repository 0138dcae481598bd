"""Case intake: submissions per second that the web server on this machine takes through the API,
with dispatch to the grid's worker.

Run: ``.venv/bin/python bench/case_intake.py`` (``BENCH_N`` cases, default 3000;
``BENCH_WORKERS`` server processes, default two per core; ``BENCH_CLIENTS`` concurrent clients,
default 8; ``BENCH_SERVER_ARGS`` extra server arguments; ``BENCH_SERVER=uvicorn`` serves the ASGI
application instead, if uvicorn is installed).

The world is ``case_intake_inprocess.py``'s (throwaway district, 4 grids each owned by a worker, one resident),
here signed in the way a phone app is: ``Authorization: Bearer <token>``. The server is the one
deployed (``infra/Dockerfile``): gunicorn's sync workers serving ``config.wsgi:application``, with
``BENCH_WORKERS`` processes, started by the benchmark on a free port; throttles are lifted through the environment
(``THROTTLE_USER``). ``BENCH_CLIENTS`` threads in this process keep one HTTP/1.1 connection each
and POST JSON to ``/api/v1/cases/``; the clock runs from the first request to the last answer. Every
answer must be 201 and afterwards every case must be ``assigned`` to its grid's worker.

Besides the rate it prints the CPU time per case of the server processes, of PostgreSQL and of the
clients (from /proc), and what two cores could take at that cost if nothing else ran: the rate
depends on what else the machine is doing, the CPU cost much less.
"""
from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from _support import ROOT, bench_slug, drop_district, figure, log, quiet_stdout, setup_django, size
from case_intake_inprocess import GRIDS, build_world

PATH = "/api/v1/cases/"
SERVER = os.environ.get("BENCH_SERVER", "gunicorn")


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids) -> float:
    """User + system CPU time of these processes (Linux /proc), in seconds."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICKS


def children(pid: int) -> list[int]:
    found, queue = [], [pid]
    while queue:
        parent = queue.pop()
        for task in Path(f"/proc/{parent}/task").iterdir():
            try:
                kids = [int(k) for k in (task / "children").read_text().split()]
            except OSError:
                kids = []
            found.extend(kids)
            queue.extend(kids)
    return found


def postgres_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() in ("postgres", "postmaster"):
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, workers: int) -> subprocess.Popen:
    env = {**os.environ, "THROTTLE_USER": "1000000/min", "THROTTLE_ANON": "1000000/min",
           "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'platform'}", "SENTRY_DSN": ""}
    if SERVER == "uvicorn":
        args = [str(Path(sys.executable).with_name("uvicorn")), "config.asgi:application", "--host", "127.0.0.1",
                "--port", str(port), "--workers", str(workers), "--no-access-log", "--log-level", "warning"]
    else:
        args = [str(Path(sys.executable).with_name("gunicorn")), "-c", str(ROOT / "infra" / "gunicorn.conf.py"),
                "config.wsgi:application", "--bind",
                f"127.0.0.1:{port}", "--workers", str(workers), "--log-level", "warning"]
    args += os.environ.get("BENCH_SERVER_ARGS", "").split()
    server = subprocess.Popen(args, env=env, cwd=ROOT, stdout=sys.stderr, stderr=sys.stderr)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health/")
            if conn.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("the server did not answer /health/ within 60 s")


def stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(20)
    except subprocess.TimeoutExpired:
        server.kill()


def main() -> int:
    n = size(3000, 30, env="BENCH_N")
    workers = size(2 * (os.cpu_count() or 1), 2, env="BENCH_WORKERS")
    clients = size(8, 2, env="BENCH_CLIENTS")
    setup_django()
    from django.db import connection
    from django_tenants.utils import tenant_context
    from rest_framework.authtoken.models import Token

    from tenants.services import create_district

    slug = bench_slug()
    server = None
    try:
        with quiet_stdout():
            created = create_district(slug=slug, name_zh="基准区", name_en="Bench",
                                      modules=["registry", "codes", "cases"], use_pool=False)
            district = created.district
            host = district.primary_domain
            connection.set_schema_to_public()
            resident, workers_of = build_world(district)
            from modules.cases.models import AssignMode, Case, CaseEvent, Category

            with tenant_context(district):
                categories = list(Category.objects.filter(active=True, assign_mode=AssignMode.DISPATCH)
                                  .values_list("code", flat=True))
                token = Token.objects.create(user=resident).key
            connection.set_schema_to_public()
            log(f"district {slug} at {host}; {workers} server processes, {clients} clients, {n} cases")

        bodies = [json.dumps({
            "channel": "snap", "category": categories[i % len(categories)], "grid": GRIDS[i % len(GRIDS)][1],
            "title": f"楼道堆物 #{i}", "description": "三单元二楼楼道堆放纸箱，影响通行。",
            "latitude": "39.608000", "longitude": "109.781000"}).encode() for i in range(n)]
        headers = {"Host": host, "Content-Type": "application/json", "Accept": "application/json",
                   "Authorization": f"Bearer {token}"}

        port = free_port()
        server = start_server(port, workers)

        def post(conn, body) -> tuple[int, bytes]:
            conn.request("POST", PATH, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response.read()

        # Warm every server process (imports, caches, DB connections): not counted.
        warm = [http.client.HTTPConnection("127.0.0.1", port, timeout=60) for _ in range(clients)]
        warm_bodies = [json.dumps({**json.loads(bodies[0]), "title": f"预热 {i}"}).encode()
                       for i in range(4 * clients)]
        for i, body in enumerate(warm_bodies):
            status, content = post(warm[i % clients], body)
            if status != 201:
                raise SystemExit(f"warm-up: {status} {content[:400]!r}")
        for conn in warm:
            conn.close()

        bad, lock = [], threading.Lock()
        next_index = iter(range(n))

        def client():
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            while True:
                with lock:
                    i = next(next_index, None)
                if i is None:
                    break
                status, content = post(conn, bodies[i])
                if status != 201:
                    with lock:
                        bad.append((i, status, content[:300]))
            conn.close()

        threads = [threading.Thread(target=client) for _ in range(clients)]
        web = [server.pid, *children(server.pid)]
        db = postgres_pids()  # this machine's server (pooled connections stay open during the run)
        cpu_before = cpu_seconds(web), cpu_seconds(db), time.process_time()
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.perf_counter() - started
        cpu_web, cpu_db, cpu_client = (cpu_seconds(web) - cpu_before[0], cpu_seconds(db) - cpu_before[1],
                                       time.process_time() - cpu_before[2])
        stop_server(server)
        server = None
        if bad:
            raise SystemExit(f"{len(bad)} of {n} submissions failed; first: {bad[0]}")

        with quiet_stdout(), tenant_context(district):
            cases = Case.objects.exclude(title__startswith="预热")
            total = cases.count()
            assigned = cases.filter(status=Case.Status.ASSIGNED, assignee__isnull=False).count()
            wrong = sum(cases.filter(grid__code=code).exclude(assignee=worker).count()
                        for code, worker in workers_of.items())
            dispatch_events = CaseEvent.objects.filter(kind="assigned", case__in=cases).count()
            refs = cases.values("ref").distinct().count()
        connection.set_schema_to_public()
        log(f"{total} cases ({refs} distinct refs), {assigned} assigned, {dispatch_events} 'assigned' events, "
            f"{wrong} to someone other than the grid's worker")
        if total != n or assigned != n or dispatch_events != n or wrong or refs != n:
            raise SystemExit(f"dispatch check failed: {n} submitted, {total} stored, {assigned} assigned, "
                             f"{dispatch_events} assigned events, {wrong} to the wrong worker, {refs} refs")
    finally:
        if server is not None:
            stop_server(server)
        with quiet_stdout():
            connection.set_schema_to_public()
            drop_district(slug=slug)
            log(f"dropped {slug}")

    log(f"{n} cases in {seconds:.2f}s over HTTP: {n / seconds:.1f}/s")
    figure("case_intake_per_second", round(n / seconds, 1), "cases/s", ">= 100/s")
    figure("case_intake_seconds", round(seconds, 2), "s")
    figure("case_intake_server_processes", workers, "processes")
    per_case = {name: value / n * 1e3 for name, value in (("web", cpu_web), ("db", cpu_db), ("client", cpu_client))}
    log("CPU per case: " + ", ".join(f"{k} {v:.2f} ms" for k, v in per_case.items())
        + f"; {os.cpu_count()} cores: at most {os.cpu_count() * 1e3 / sum(per_case.values()):.0f} cases/s "
        "if this machine did nothing else")
    figure("case_intake_web_cpu_ms_per_case", round(per_case["web"], 2), "ms")
    figure("case_intake_db_cpu_ms_per_case", round(per_case["db"], 2), "ms")
    figure("case_intake_cpu_bound_per_second", round(os.cpu_count() * 1e3 / sum(per_case.values()), 1), "cases/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
