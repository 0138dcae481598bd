"""What each request of ``bench/load.py``'s mix costs, in one process: SQL statements and CPU time.

Run: ``.venv/bin/python bench/load_endpoints.py`` (``BENCH_REPEAT=100`` requests of each kind;
``BENCH_SMOKE=1``: 5).

One throwaway district seeded like the Kangbashi demo (``_support/load_world.py``), the requests of
``load_world.plan`` (the same mix, its first ``BENCH_REPEAT`` of each kind) sent through Django's
test ``Client`` (the whole middleware stack, ``Host:`` the district's domain, bearer tokens; throttles
running with their rates lifted, as in ``load.py``). After a warm-up round (per-process and
per-district caches filled, as in a server that has been up for a while), each kind is timed on its
own: statements per request from ``CaptureQueriesContext``, CPU milliseconds per request from
``time.process_time`` (this process only: PostgreSQL's share is not in it). Every answer must be 2xx.

To compare code changes against one district: ``BENCH_KEEP=<file>`` keeps the district and writes
its description (JSON) there; ``BENCH_WORLD=<file>`` reuses such a district instead of seeding one
(neither drops it: drop it with a last run given both). ``BENCH_PROFILE=<file>`` also writes a
cProfile (``time.process_time`` clock) of the timed requests there; ``BENCH_ONLY=my_cases,points``
times only those kinds.
"""
from __future__ import annotations

import cProfile
import dataclasses
import json
import os
import statistics
import sys
import time

os.environ.setdefault("THROTTLE_USER", "1000000/min")
os.environ.setdefault("THROTTLE_ANON", "1000000/min")

from _support import bench_slug, drop_district, figure, log, quiet_stdout, setup_django  # noqa: E402
from _support.load_world import MIX, plan, seed_district  # noqa: E402

SMOKE = os.environ.get("BENCH_SMOKE") == "1"


def main() -> int:
    repeat = int(os.environ.get("BENCH_REPEAT", "5" if SMOKE else "100"))
    setup_django()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings

    override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]).enable()
    slug = bench_slug()
    rows, db_ms = [], {}
    reuse, keep = os.environ.get("BENCH_WORLD"), os.environ.get("BENCH_KEEP")
    profile = cProfile.Profile(time.process_time) if os.environ.get("BENCH_PROFILE") else None
    try:
        if reuse:
            from _support.load_world import DistrictWorld

            with open(reuse) as f:
                world = DistrictWorld(**json.load(f))
            slug = world.slug
        else:
            with quiet_stdout():
                world = seed_district(slug, residents=5 if SMOKE else 20, ledger=not SMOKE)
        if keep:
            with open(keep, "w") as f:
                json.dump(dataclasses.asdict(world), f)
        log(f"{slug}: " + ", ".join(f"{k} {v:.1f}s" for k, v in world.seconds.items()))
        requests = plan([world], n=max(60 * repeat, 600))
        by_kind = {name: [r for r in requests if r["name"] == name][:repeat] for name, _s, _w in MIX}
        client = Client()

        def send(r):
            headers = {k: v for k, v in r["headers"].items() if k != "Content-Type"}
            kwargs = {"headers": headers}
            if r["method"] == "POST":
                response = client.post(r["path"], data=r["body"], content_type="application/json", **kwargs)
            else:
                response = client.get(r["path"], **kwargs)
            if response.status_code >= 400:
                raise SystemExit(f"{r['name']} {r['method']} {r['path']}: {response.status_code} "
                                 f"{response.content[:400]!r}")
            return response

        first_new_case = None
        if reuse:  # the snap reports of this run are deleted at its end: every run sees the same lists
            from django_tenants.utils import schema_context

            from modules.cases.models import Case
            from tenants.models import District

            schema = District.objects.get(slug=slug).schema_name
            with schema_context(schema):
                first_new_case = (Case.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
        with quiet_stdout():
            for items in by_kind.values():  # warm-up: caches, imports, the connection
                for r in items[:3]:
                    send(r)
            from case_intake import cpu_seconds

            only = set(filter(None, os.environ.get("BENCH_ONLY", "").split(",")))
            for name, share, _who in MIX:
                if only and name not in only:
                    continue
                items = by_kind[name]
                statements, cpu = [], []
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_backend_pid()")
                    backend = cursor.fetchone()[0]
                db_started = cpu_seconds([backend])
                for r in items:
                    with CaptureQueriesContext(connection) as queries:
                        started = time.process_time()
                        if profile:
                            profile.enable()
                        send(r)
                        if profile:
                            profile.disable()
                        cpu.append((time.process_time() - started) * 1e3)
                    statements.append(len(queries.captured_queries))
                db_ms[name] = (cpu_seconds([backend]) - db_started) * 1e3 / len(items)
                rows.append((name, share, statistics.mean(statements), max(statements),
                             statistics.median(cpu), statistics.mean(cpu)))
                if name == "my_cases":
                    log("  statements of one my_cases request:\n    " + "\n    ".join(
                        q["sql"][:160] for q in queries.captured_queries))
    finally:
        if first_new_case is not None:
            with schema_context(schema):
                Case.objects.filter(id__gte=first_new_case).delete()
        with quiet_stdout():
            connection.set_schema_to_public()
            if not keep and not reuse or keep and reuse:
                drop_district(slug=slug)
                log(f"dropped {slug}")
    if profile:
        profile.dump_stats(os.environ["BENCH_PROFILE"])

    log(f"{'request':<12} {'share':>5} {'stmts':>6} {'max':>4} {'cpu p50':>8} {'cpu mean':>8} {'db cpu':>8}")
    for name, share, mean_statements, max_statements, cpu_median, cpu_mean in rows:
        log(f"{name:<12} {share:>4}% {mean_statements:>6.1f} {max_statements:>4} {cpu_median:>7.2f}ms {cpu_mean:>7.2f}ms"
            f" {db_ms[name]:>7.2f}ms")
        figure(f"endpoint_{name}_db_cpu_ms", round(db_ms[name], 2), "ms")
        figure(f"endpoint_{name}_statements", round(mean_statements, 1), "statements/request")
        figure(f"endpoint_{name}_cpu_ms", round(cpu_median, 2), "ms")
    if len(rows) < len(MIX):  # BENCH_ONLY: no mix
        return 0
    weighted_cpu = sum(share * cpu_median for _n, share, _s, _m, cpu_median, _c in rows) / 100
    weighted_statements = sum(share * s for _n, share, s, _m, _c, _cm in rows) / 100
    weighted_db = sum(share * db_ms[name] for name, share, *_rest in rows) / 100
    log(f"mix: {weighted_statements:.1f} statements, {weighted_cpu:.2f} ms CPU a request, database {weighted_db:.2f} ms")
    figure("endpoint_mix_db_cpu_ms", round(weighted_db, 2), "ms")
    figure("endpoint_mix_statements", round(weighted_statements, 1), "statements/request")
    figure("endpoint_mix_cpu_ms", round(weighted_cpu, 2), "ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
