"""Points reads over a 1,000,000-entry ledger: a resident's balance + history, and the compound ranking
(goal p95 under 20 ms each).

Run: ``.venv/bin/python bench/points_queries.py`` (``BENCH_ENTRIES=1000000 BENCH_RESIDENTS=100000
BENCH_SAMPLES=1000``).

A throwaway district (modules registry + points, Kangbashi's rulebook: 51 add and 33 deduct rules),
dropped at the end. Set-up, not timed, in SQL (``generate_series``): 5 streets, 20 communities, 100
grids, 500 compounds, 5,000 buildings, 50,000 households, ``BENCH_RESIDENTS`` residents bound two per
household; ``BENCH_ENTRIES`` ledger entries over two years (one in twenty a deduction), the balances
as their sums, 20,000 verified reports for the compound score; then ANALYZE.

Timed (``BENCH_SAMPLES`` each, random residents):

- ``selectors.summary``: the civic/material balances (index lookup on ``points_balance``), the newest
  20 entries with their rule version, poster and approver (``points_entry_history``: resident, id desc),
  which of them were reversed, the tier;
- ``GET /api/v1/points/me/`` through Django's test client (one client, the sessions of 200 residents in
  turn, whole middleware stack, throttles off): the same plus authentication and serialising;
- ``selectors.compound_ranking``: the top 20 compounds from the precomputed score table, and
  ``GET /api/v1/points/ranking/``;
- ``scores.refresh_compound_scores``: recomputing every compound's score (the periodic task);
- a 20,000-resident batch (or one for every resident, when fewer) posted on top of the 1,000,000
  entries (``batches.run_batch``).
"""
from __future__ import annotations

import gc
import random
import statistics
import sys
import time

from _support import bench_slug, drop_district, figure, log, quiet_stdout, setup_django, size


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(round(0.95 * len(ordered))) - 1)]


def build(cursor, residents: int, entries: int) -> None:
    households = (residents + 1) // 2
    t = time.perf_counter()
    cursor.execute("""
        INSERT INTO registry_street (id, code, name) SELECT s, 'S' || s, '街道' || s FROM generate_series(1, 5) s;
        INSERT INTO registry_community (id, code, name, street_id, police_contact)
            SELECT c, 'C' || c, '社区' || c, 1 + (c - 1) / 4, '' FROM generate_series(1, 20) c;
        INSERT INTO registry_grid (id, code, name, community_id, worker_id, duty_phone)
            SELECT g, 'G' || g, '网格' || g, 1 + (g - 1) / 5, NULL, '' FROM generate_series(1, 100) g;
        INSERT INTO registry_compound (id, code, name, community_id, grid_id, property_company, property_contact)
            SELECT x, 'X' || x, '小区' || x, 1 + (x - 1) / 25, 1 + (x - 1) / 5, '', '' FROM generate_series(1, 500) x;
        INSERT INTO registry_building (id, compound_id, number, grid_id)
            SELECT b, 1 + (b - 1) / 10, ((b - 1) % 10 + 1)::text, 1 + (b - 1) / 50 FROM generate_series(1, 5000) b;
    """)
    cursor.execute("""
        INSERT INTO registry_household (id, building_id, unit, room, grid_id, registered_size)
            SELECT h, 1 + (h - 1) %% 5000, '1', (100 + (h - 1) / 5000)::text, 1 + ((h - 1) %% 5000) / 50, NULL
            FROM generate_series(1, %s) h;
        INSERT INTO registry_resident (id, name, id_number_encrypted, id_number_index, phone_encrypted, phone_index,
                                       gender, birth_date, user_id, created_at, updated_at)
            SELECT r, '居民' || r, '', NULL, '', NULL, '', NULL, NULL, now(), now() FROM generate_series(1, %s) r;
        INSERT INTO registry_membership (resident_id, household_id, relation, since, ended_at)
            SELECT r, 1 + (r - 1) / 2, CASE WHEN r %% 2 = 1 THEN 'head' ELSE 'member' END, current_date, NULL
            FROM generate_series(1, %s) r;
    """, [households, residents, residents])
    for table in ("registry_street", "registry_community", "registry_grid", "registry_compound", "registry_building",
                  "registry_household", "registry_resident", "registry_membership"):
        cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    log(f"places and {residents:,} residents in {time.perf_counter() - t:.1f}s")
    t = time.perf_counter()
    cursor.execute("""
        SELECT array_agg(id ORDER BY id) FILTER (WHERE direction = 'add'),
               array_agg(id ORDER BY id) FILTER (WHERE direction = 'deduct')
        FROM points_ruleversion WHERE is_current AND kind = 'civic'""")
    adds, deducts = cursor.fetchone()
    cursor.execute("""
        INSERT INTO points_entry (resident_id, rule_id, rule_version_id, kind, points, occurred_on, reason, evidence,
                                  evidence_file, source_kind, source_id, posted_by_id, approved_by_id, posted_at,
                                  idempotency_key, reverses_id)
        SELECT 1 + (g::bigint * 7919) %% %(residents)s, v.rule_id, v.id, 'civic',
               (CASE WHEN v.direction = 'add' THEN 1 ELSE -1 END) * (v.min_points + g %% (v.max_points - v.min_points + 1)),
               (now() - (%(entries)s - g) * interval '63 seconds')::date, v.name_zh, '', '', 'manual', NULL, NULL, NULL,
               now() - (%(entries)s - g) * interval '63 seconds', 'bench:' || g, NULL
        FROM generate_series(1, %(entries)s) g
        JOIN points_ruleversion v ON v.id = CASE WHEN g %% 20 = 0
             THEN (%(deducts)s::bigint[])[1 + (g / 20) %% cardinality(%(deducts)s::bigint[])]
             ELSE (%(adds)s::bigint[])[1 + g %% cardinality(%(adds)s::bigint[])] END
    """, {"residents": residents, "entries": entries, "adds": adds, "deducts": deducts})
    log(f"{entries:,} entries in {time.perf_counter() - t:.1f}s")
    t = time.perf_counter()
    cursor.execute("""
        INSERT INTO points_balance (resident_id, kind, points, entries, updated_at)
        SELECT resident_id, kind, sum(points), count(*), now() FROM points_entry GROUP BY resident_id, kind;
        INSERT INTO points_reportfact (case_id, channel, category, reporter_household_id, offender_household_id,
                                       praised_household_id, verified_at)
        SELECT g, 'outdoor_report', 'corridor_clutter', 1 + (g * 31) %% %(h)s,
               CASE WHEN g %% 3 <> 0 THEN 1 + (g * 17) %% %(h)s END, CASE WHEN g %% 3 = 0 THEN 1 + (g * 13) %% %(h)s END,
               now() - (g %% 300) * interval '1 day'
        FROM generate_series(1, 20000) g;
        ANALYZE;
    """, {"h": households})
    log(f"balances, report facts, ANALYZE in {time.perf_counter() - t:.1f}s")


def main() -> int:
    entries = size(1_000_000, 2000, env="BENCH_ENTRIES")
    residents = size(100_000, 200, env="BENCH_RESIDENTS")
    samples = size(1000, 20, env="BENCH_SAMPLES")
    setup_django()
    from django.conf import settings
    from django.db import connection
    from django.test import Client, override_settings
    from django_tenants.utils import tenant_context

    from accounts.services import create_user
    from kernel.services import update_module_config
    from modules.points.batches import services as batches
    from modules.points.ledger import api, scores, selectors
    from modules.points.ledger import rules as rulebook
    from modules.points.ledger import services as ledger
    from modules.registry.models import Resident
    from tenants.services import create_district

    batches.queue_batch = lambda batch_id: None  # no broker: a developer's worker must not run them too
    rng = random.Random(7)
    slug = bench_slug()
    out: dict[str, float] = {}
    try:
        with quiet_stdout():
            created = create_district(slug=slug, name_zh="基准区", name_en="Bench", modules=["registry", "points"],
                                      use_pool=False, seed_template="kangbashi")
            district = created.district
            host = district.primary_domain
            connection.set_schema_to_public()
            log(f"district {slug} ({created.seconds:.1f}s)")
            with tenant_context(district):
                with connection.cursor() as cursor:
                    build(cursor, residents, entries)
                t = time.perf_counter()
                scored = scores.refresh_compound_scores()
                out["refresh"] = time.perf_counter() - t
                log(f"compound scores: {scored} compounds in {out['refresh']:.2f}s")

                # selectors, in-process
                ids = [rng.randint(1, residents) for _ in range(samples)]
                for rid in ids[:50]:  # warm-up
                    selectors.summary(Resident(pk=rid))
                gc.collect()
                times, rows = [], 0
                for rid in ids:
                    t = time.perf_counter()
                    s = selectors.summary(Resident(pk=rid))
                    times.append((time.perf_counter() - t) * 1e3)
                    rows += len(s.entries)
                out["summary_p50"], out["summary_p95"] = statistics.median(times), p95(times)
                log(f"summary: p50 {out['summary_p50']:.2f} ms, p95 {out['summary_p95']:.2f} ms, "
                    f"max {max(times):.2f} ms, {rows / samples:.1f} entries a page")
                for _ in range(50):
                    selectors.compound_ranking(limit=20)
                times = []
                for _ in range(samples):
                    t = time.perf_counter()
                    top = selectors.compound_ranking(limit=20)
                    times.append((time.perf_counter() - t) * 1e3)
                out["ranking_p50"], out["ranking_p95"] = statistics.median(times), p95(times)
                log(f"ranking: p50 {out['ranking_p50']:.2f} ms, p95 {out['ranking_p95']:.2f} ms "
                    f"(top: {top[0].compound.code} {top[0].score})")

                # the API, through the whole stack
                users = []
                for i, rid in enumerate(rng.sample(range(1, residents + 1), min(200, residents))):
                    user = create_user(actor=None, username=f"r{i}", password=None)
                    Resident.objects.filter(pk=rid).update(user=user)
                    users.append(user)
                # One client (one handler and middleware chain, as in a web process), one session per resident.
                client = Client(HTTP_HOST=host, HTTP_ACCEPT_LANGUAGE="zh-hans")
                sessions = []
                for user in users:
                    client.cookies.clear()  # a new session (logging in over another user's would flush it)
                    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
                    sessions.append(client.cookies[settings.SESSION_COOKIE_NAME].value)
            connection.set_schema_to_public()
            rest = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_CLASSES": []}
            with override_settings(REST_FRAMEWORK=rest):
                api.Me.throttle_classes = api.Ranking.throttle_classes = []
                for path, key in (("/api/v1/points/me/", "me"), ("/api/v1/points/ranking/", "ranking_api")):
                    for session in sessions[:20]:
                        client.cookies[settings.SESSION_COOKIE_NAME] = session
                        first = client.get(path)
                        if first.status_code != 200:
                            raise SystemExit(f"{path}: {first.status_code} {first.content[:300]!r}")
                    gc.collect()
                    times = []
                    for i in range(samples):
                        client.cookies[settings.SESSION_COOKIE_NAME] = sessions[i % len(sessions)]
                        t = time.perf_counter()
                        response = client.get(path)
                        times.append((time.perf_counter() - t) * 1e3)
                        if response.status_code != 200:
                            raise SystemExit(f"{path}: {response.status_code}")
                    out[f"{key}_p50"], out[f"{key}_p95"] = statistics.median(times), p95(times)
                    first, later = times[:len(sessions)], times[len(sessions):]
                    log(f"  first request of each resident p95 {p95(first):.2f} ms, later ones p95 "
                        f"{p95(later) if later else 0:.2f} ms; slowest {sorted(times)[-5:]}")
                    log(f"GET {path}: p50 {out[key + '_p50']:.2f} ms, p95 {out[key + '_p95']:.2f} ms")

            with tenant_context(district):
                update_module_config(actor=None, module_key="points",
                                     data={**ledger.config(), "batch_needs_committee": False})
                admin = create_user(actor=None, username="bench-admin", password=None)
                from kernel.services import assign_role

                assign_role(actor=None, user=admin, role="district_admin")
                rulebook.create_rule(actor=admin, code="bench_drill", name_zh="参与演练", direction="add",
                                     category="community", min_points=5, max_points=5)
                n_batch = min(20_000, residents)
                batch = batches.create_batch(actor=admin, rule="bench_drill", points=5, reason="核酸演练",
                                             resident_ids=list(range(1, n_batch + 1)), background=True)
                t = time.perf_counter()
                batch = batches.run_batch(batch_id=batch.pk)
                out["batch"] = time.perf_counter() - t
                if batch.posted_count != n_batch:
                    raise SystemExit(f"batch posted {batch.posted_count}")
                log(f"{n_batch:,}-resident batch on {entries:,} entries: {out['batch']:.3f}s")
                with connection.cursor() as cursor:
                    cursor.execute("SELECT count(*) FROM points_entry")
                    total = cursor.fetchone()[0]
                    cursor.execute("SELECT pg_size_pretty(pg_total_relation_size('points_entry'))")
                    log(f"{total:,} entries, points_entry with indexes: {cursor.fetchone()[0]}")
                mismatches = selectors.ledger_mismatches()
                if mismatches:
                    raise SystemExit(f"balances differ from their entries: {mismatches[:5]}")
            connection.set_schema_to_public()
    finally:
        with quiet_stdout():
            connection.set_schema_to_public()
            drop_district(slug=slug)
            log(f"dropped {slug}")

    figure("points_history_p95_ms", round(out["summary_p95"], 2), "ms", "< 20 ms")
    figure("points_history_p50_ms", round(out["summary_p50"], 2), "ms")
    figure("points_me_api_p95_ms", round(out["me_p95"], 2), "ms", "< 20 ms")
    figure("points_ranking_p95_ms", round(out["ranking_p95"], 2), "ms", "< 20 ms")
    figure("points_ranking_api_p95_ms", round(out["ranking_api_p95"], 2), "ms", "< 20 ms")
    figure("points_score_refresh_seconds", round(out["refresh"], 2), "s")
    figure("points_batch_on_1m_worker_seconds", round(out["batch"], 3), "s", "< 2 s")
    figure("points_ledger_entries", entries, "entries")
    return 0


if __name__ == "__main__":
    sys.exit(main())
