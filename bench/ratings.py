"""Ratings (好差评) at the seeds' scale: 600,000 ratings over 2,000 officials and 3,000 merchants.

Run: ``.venv/bin/python bench/ratings.py`` (``BENCH_RATINGS=600000 BENCH_OFFICIALS=2000
BENCH_MERCHANTS=3000 BENCH_SAMPLES=200 BENCH_N=3000 BENCH_WORKERS=4 BENCH_CLIENTS=8``).

A throwaway district (modules registry, codes, ratings), dropped at the end. Set-up, not timed, in SQL
(``generate_series``): 10 streets, 50 communities, 200 grids, 100 departments, the officials (each in a
department) and merchants (each in a grid), 20,000 households with a resident each; ``BENCH_RATINGS``
ratings over the last twelve months (two in five of merchants; levels mostly satisfied, one in twelve
bad; every dimension scored; households, devices and networks drawn at random from pools, so that some
coincide), the tallies rebuilt from them (``ledger.tally.rebuild``), then ANALYZE.

Timed:

- ``reports.selectors.ranking``: all officials ranked by one dimension (each of the five and the
  overall level) for a month, a quarter and the year; ``BENCH_SAMPLES`` calls, p95 (goal < 100 ms);
- ``integrity.scan.scan_all``: the anti-gaming pass over the whole ledger (goal < 10 s);
- ``POST /api/v1/ratings/``: ``BENCH_N`` ratings through the API on the deployed server (gunicorn,
  ``BENCH_WORKERS`` processes, started on a free port), from ``BENCH_CLIENTS`` client threads of this
  process, each keeping one connection; 400 residents bound to households, signed in with tokens,
  each rating officials by their code (goal >= 200/s). Every answer must be 201, and afterwards the
  ledger must hold one live rating per rater, official and month, and the tallies must equal the
  counted ratings.
"""
from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import random
import statistics
import sys
import threading
import time

from _support import bench_slug, drop_district, figure, log, quiet_stdout, setup_django, size
from case_intake import children, cpu_seconds, free_port, postgres_pids, start_server, stop_server

RATERS = 400


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(round(0.95 * len(ordered))) - 1)]


def build(cursor, *, officials: int, merchants: int, ratings: int, households: int) -> None:
    t = time.perf_counter()
    cursor.execute("""
        INSERT INTO registry_street (id, code, name) SELECT s, 'S' || s, '街道' || s FROM generate_series(1, 10) s;
        INSERT INTO registry_community (id, code, name, street_id, police_contact)
            SELECT c, 'C' || c, '社区' || c, 1 + (c - 1) / 5, '' FROM generate_series(1, 50) c;
        INSERT INTO registry_grid (id, code, name, community_id, worker_id, duty_phone)
            SELECT g, 'G' || g, '网格' || g, 1 + (g - 1) / 4, NULL, '' FROM generate_series(1, 200) g;
        INSERT INTO registry_department (id, code, name, is_sector)
            SELECT d, 'dept-' || d, '部门' || d, false FROM generate_series(1, 100) d;
        INSERT INTO registry_compound (id, code, name, community_id, grid_id, property_company, property_contact)
            SELECT x, 'X' || x, '小区' || x, 1 + (x - 1) / 4, x, '', '' FROM generate_series(1, 200) x;
        INSERT INTO registry_building (id, compound_id, number, grid_id)
            SELECT b, 1 + (b - 1) / 10, ((b - 1) % 10 + 1)::text, 1 + (b - 1) / 10 FROM generate_series(1, 2000) b;
    """)
    cursor.execute("""
        INSERT INTO registry_official (id, name, department_id, post, user_id, phone_encrypted, active)
            SELECT o, '干部' || o, 1 + (o - 1) %% 100, '科员', NULL, '', true FROM generate_series(1, %(officials)s) o;
        INSERT INTO registry_merchant (id, name, kind, owner_id, license_number, address, grid_id, licensed_place,
                                       licensed_hours, phone_encrypted, active)
            SELECT m, '商户' || m, 'shop', NULL, '', '', 1 + (m - 1) %% 200, '', '', '', true
            FROM generate_series(1, %(merchants)s) m;
        INSERT INTO registry_household (id, building_id, unit, room, grid_id, registered_size)
            SELECT h, 1 + (h - 1) %% 2000, '1', (100 + (h - 1) / 2000)::text, 1 + ((h - 1) %% 2000) / 10, NULL
            FROM generate_series(1, %(households)s) h;
        INSERT INTO registry_resident (id, name, id_number_encrypted, id_number_index, phone_encrypted, phone_index,
                                       gender, birth_date, user_id, created_at, updated_at)
            SELECT r, '居民' || r, '', NULL, '', NULL, '', NULL, NULL, now(), now()
            FROM generate_series(1, %(households)s) r;
        INSERT INTO registry_membership (resident_id, household_id, relation, since, ended_at)
            SELECT r, r, 'head', current_date, NULL FROM generate_series(1, %(households)s) r;
    """, {"officials": officials, "merchants": merchants, "households": households})
    for table in ("registry_street", "registry_community", "registry_grid", "registry_department",
                  "registry_compound", "registry_building", "registry_official", "registry_merchant",
                  "registry_household", "registry_resident", "registry_membership"):
        cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    log(f"places, {officials:,} officials, {merchants:,} merchants, {households:,} households "
        f"in {time.perf_counter() - t:.1f}s")
    t = time.perf_counter()
    # One rating per generated row g: official or merchant (2 in 5), a level (mostly satisfied, 1 in 12
    # bad), each dimension near the level, a time in the last 365 days, a rater from 200,000, a device
    # from 150,000, a network from 20,000, a household from the 20,000 for one rating in three.
    cursor.execute("""
        WITH g AS (
            SELECT g, (g %% 5) < 2 AS is_merchant, random() AS u, random() AS v,
                   now() - (random() * interval '365 days') AS at
            FROM generate_series(1::bigint, %(ratings)s) g
        ), r AS (
            SELECT g.*, CASE WHEN u < 0.55 THEN 5 WHEN u < 0.80 THEN 4 WHEN u < 0.917 THEN 3
                             WHEN u < 0.96 THEN 2 ELSE 1 END AS level,
                   CASE WHEN is_merchant THEN NULL ELSE 1 + (g * 7919) %% %(officials)s END AS official_id,
                   CASE WHEN is_merchant THEN 1 + (g * 104729) %% %(merchants)s END AS merchant_id
            FROM g
        )
        INSERT INTO ratings_rating (subject_kind, official_id, merchant_id, department_id, grid_id, community_id,
                                    street_id, channel, level, scores, comment, rater_id, rater_key,
                                    rater_household_id, rater_phone_index, device_hash, network_hash, real_name,
                                    period_key, case_id, case_ref, state, hold_reasons, decision_note, created_at,
                                    idempotency_fingerprint)
        SELECT CASE WHEN is_merchant THEN 'merchant' ELSE 'official' END, official_id, merchant_id,
               CASE WHEN is_merchant THEN NULL ELSE 1 + (official_id - 1) %% 100 END,
               CASE WHEN is_merchant THEN 1 + (merchant_id - 1) %% 200 END,
               CASE WHEN is_merchant THEN 1 + ((merchant_id - 1) %% 200) / 4 END,
               CASE WHEN is_merchant THEN 1 + ((merchant_id - 1) %% 200) / 20 END,
               CASE WHEN is_merchant THEN 'merchant_code' ELSE 'official_code' END, level,
               CASE WHEN is_merchant THEN jsonb_build_object(
                        'attitude', level, 'environment', greatest(1, level - (v < 0.2)::int),
                        'quality', least(5, level + (v > 0.9)::int))
                    ELSE jsonb_build_object(
                        'duty', level, 'style', greatest(1, level - (v < 0.2)::int), 'efficiency',
                        greatest(1, level - (v < 0.35)::int), 'fairness', least(5, level + (v > 0.9)::int),
                        'integrity', level) END,
               '', NULL, 'b:' || g, CASE WHEN g %% 3 = 0 THEN 1 + floor(random() * %(households)s)::int END, '',
               md5('d' || floor(random() * 150000)::int), md5('n' || floor(random() * 20000)::int), true,
               to_char(at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM'), NULL, '', 'counted', '[]'::jsonb, '', at, ''
        FROM r
    """, {"ratings": ratings, "officials": officials, "merchants": merchants, "households": households})
    log(f"{ratings:,} ratings in {time.perf_counter() - t:.1f}s")
    t = time.perf_counter()
    from modules.ratings.ledger import tally

    rows = tally.rebuild()
    cursor.execute("ANALYZE")
    log(f"{rows:,} tally rows rebuilt and ANALYZE in {time.perf_counter() - t:.1f}s")


def time_rankings(samples: int) -> list[float]:
    from django.utils import timezone

    from modules.ratings.reports import selectors

    today = timezone.localdate()
    month_start = today.replace(day=1)
    quarter_start = dt.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    year_start = (month_start - dt.timedelta(days=335)).replace(day=1)
    periods = [(month_start, today), (quarter_start, today), (year_start, today)]
    dimensions = ["", "duty", "style", "efficiency", "fairness", "integrity"]
    for start, end in periods:  # warm: plans and caches, not timed
        selectors.ranking(unit="official", dimension="", start=start, end=end)
    rng = random.Random(7)
    timings = []
    for _ in range(samples):
        start, end = rng.choice(periods)
        dimension = rng.choice(dimensions)
        t = time.perf_counter()
        rows = selectors.ranking(unit="official", dimension=dimension, start=start, end=end)
        timings.append((time.perf_counter() - t) * 1e3)
        if not rows:
            raise SystemExit("the ranking is empty")
    return timings


def make_raters(district) -> list[str]:
    """RATERS residents with accounts, bound to the first households, each with a token."""
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from kernel.models import RoleAssignment
    from modules.registry.models import Resident

    User = get_user_model()
    users = User.objects.bulk_create([User(username=f"rater{i}", display_name=f"居民{i}") for i in range(RATERS)])
    RoleAssignment.objects.bulk_create([RoleAssignment(user=u, role="resident") for u in users])
    for i, user in enumerate(users):
        Resident.objects.filter(pk=i + 1).update(user=user)
    return [t.key for t in Token.objects.bulk_create([Token(user=u, key=Token.generate_key()) for u in users])]


def official_codes(officials: int) -> list[str]:
    from modules.codes.models import Code

    made = Code.objects.bulk_create([Code(kind="official", official_id=i) for i in range(1, officials + 1)])
    return [c.token for c in made]


def post_ratings(*, host: str, tokens: list[str], codes: list[str], n: int, workers: int, clients: int):
    port = free_port()
    server = start_server(port, workers)
    try:
        def body(i: int) -> bytes:
            level = 5 if i % 7 else 3
            return json.dumps({"code": codes[(i // len(tokens) + 13 * i) % len(codes)], "level": level,
                               "comment": "服务热情，办事利索。" if level == 5 else ""}).encode()

        def post(conn, i: int) -> tuple[int, bytes]:
            conn.request("POST", "/api/v1/ratings/", body=body(i), headers={
                "Host": host, "Content-Type": "application/json", "Accept": "application/json",
                "Authorization": f"Bearer {tokens[i % len(tokens)]}"})
            response = conn.getresponse()
            return response.status, response.read()

        warm = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for i in range(n, n + 4 * clients):  # warm every process; other pairs than the timed ones
            status, content = post(warm, i)
            if status != 201:
                raise SystemExit(f"warm-up: {status} {content[:400]!r}")
        warm.close()
        bad, lock, next_index = [], threading.Lock(), iter(range(n))

        def client():
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            while True:
                with lock:
                    i = next(next_index, None)
                if i is None:
                    break
                status, content = post(conn, i)
                if status != 201:
                    with lock:
                        bad.append((i, status, content[:300]))
            conn.close()

        threads = [threading.Thread(target=client) for _ in range(clients)]
        web, db = [server.pid, *children(server.pid)], postgres_pids()
        cpu_before = cpu_seconds(web), cpu_seconds(db)
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.perf_counter() - started
        cpu = (cpu_seconds(web) - cpu_before[0], cpu_seconds(db) - cpu_before[1])
    finally:
        stop_server(server)
    if bad:
        raise SystemExit(f"{len(bad)} of {n} rating submissions failed; first: {bad[0]}")
    return seconds, cpu


def main() -> int:
    ratings = size(600_000, 3_000, env="BENCH_RATINGS")
    officials = size(2_000, 50, env="BENCH_OFFICIALS")
    merchants = size(3_000, 50, env="BENCH_MERCHANTS")
    samples = size(200, 10, env="BENCH_SAMPLES")
    n = size(3000, 40, env="BENCH_N")
    workers = size(2 * (os.cpu_count() or 1), 2, env="BENCH_WORKERS")
    clients = size(8, 2, env="BENCH_CLIENTS")
    households = max(RATERS, min(20_000, ratings // 30))
    setup_django()
    from django.db import connection, transaction
    from django_tenants.utils import tenant_context

    from tenants.services import create_district

    slug = bench_slug()
    try:
        with quiet_stdout():
            created = create_district(slug=slug, name_zh="基准区", name_en="Bench",
                                      modules=["registry", "codes", "ratings"], use_pool=False)
            district = created.district
            host = district.primary_domain
            with tenant_context(district), transaction.atomic(), connection.cursor() as cursor:
                build(cursor, officials=officials, merchants=merchants, ratings=ratings, households=households)
            with tenant_context(district):
                timings = time_rankings(samples)
            log(f"ranking of {officials:,} officials over {ratings:,} ratings: median "
                f"{statistics.median(timings):.1f} ms, p95 {p95(timings):.1f} ms, max {max(timings):.1f} ms")

            from modules.ratings.integrity import scan

            with tenant_context(district):
                t = time.perf_counter()
                found = scan.scan_all()
                scan_seconds = time.perf_counter() - t
            log(f"anti-gaming pass over {ratings:,} ratings in {scan_seconds:.2f}s: {found}")

            with tenant_context(district):
                tokens = make_raters(district)
                codes = official_codes(officials)
        connection.set_schema_to_public()
        log(f"{n} ratings through the API: {workers} server processes, {clients} clients")
        seconds, cpu = post_ratings(host=host, tokens=tokens, codes=codes, n=n, workers=workers, clients=clients)
        with quiet_stdout(), tenant_context(district):
            live, doubles, counted, tallied = check_ledger()
        connection.set_schema_to_public()
        log(f"API ratings live: {live:,}; raters with two live ratings of one official in a month: {doubles}; "
            f"counted ratings {counted:,}, in the tallies {tallied:,}")
        if doubles or counted != tallied:
            raise SystemExit("ledger check failed: a doubled rating, or tallies that differ from the ratings")
    finally:
        with quiet_stdout():
            connection.set_schema_to_public()
            drop_district(slug=slug)
            log(f"dropped {slug}")
    figure("ratings_ranking_officials_p95_ms", round(p95(timings), 2), "ms", "< 100 ms")
    figure("ratings_ranking_officials_median_ms", round(statistics.median(timings), 2), "ms")
    figure("ratings_antigaming_pass_seconds", round(scan_seconds, 2), "s", "< 10 s")
    figure("ratings_ledger_size", ratings, "ratings")
    log(f"{n} ratings in {seconds:.2f}s over HTTP: {n / seconds:.1f}/s; CPU per rating: web "
        f"{cpu[0] / n * 1e3:.2f} ms, db {cpu[1] / n * 1e3:.2f} ms")
    figure("ratings_api_submissions_per_second", round(n / seconds, 1), "ratings/s", ">= 200/s")
    figure("ratings_api_web_cpu_ms_per_rating", round(cpu[0] / n * 1e3, 2), "ms")
    figure("ratings_api_db_cpu_ms_per_rating", round(cpu[1] / n * 1e3, 2), "ms")
    return 0


def check_ledger() -> tuple[int, int, int, int]:
    """(live API ratings, rater+official+period pairs with more than one live rating, counted ratings,
    ratings in the overall tallies)."""
    from django.db.models import Count, Sum

    from modules.ratings.ledger.models import Rating, Tally

    live = Rating.objects.filter(rater__isnull=False, state__in=["counted", "held"])
    doubles = (live.filter(follow_on_of__isnull=True).values("rater", "official", "period_key")
               .annotate(c=Count("id")).filter(c__gt=1).count())
    counted = Rating.objects.filter(state="counted").count()
    tallied = Tally.objects.filter(dimension="").aggregate(s=Sum("n"))["s"] or 0
    return live.count(), doubles, counted, tallied


if __name__ == "__main__":
    sys.exit(main())
