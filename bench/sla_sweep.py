"""One SLA sweep over 100,000 open cases: ``escalate_overdue`` and ``auto_close``.

Run: ``.venv/bin/python bench/sla_sweep.py`` (``BENCH_CASES=100000`` open cases,
``BENCH_RESOLVED=10000`` resolved ones for auto-close).

A throwaway district (``create_district(use_pool=False)``, modules registry, codes, cases) with one
street, community and grid owned by a grid worker. The cases are written with one
``INSERT … SELECT generate_series`` each (not timed), with a "submitted" timeline event per case, then
``ANALYZE``d (as autovacuum would). With the sweep's clock ``T`` the open cases are, by ``i % 100``:

- 0–4 (5 %): overdue for response (submitted to the pool or assigned, response due 1–20 h before T);
- 5–9 (5 %): overdue for resolution (accepted or in progress, responded, resolution due 1–48 h before T);
- 10–11 (2 %): overdue but already at district supervision (``owner_level`` 4, nothing left to escalate);
- the rest (88 %): not due yet (next escalation 1–72 h after T), in every open status.

Resolved cases: resolved 1 h to 14 days before T, so about half are past ``auto_close_days`` (7).

Timed: one ``escalate_overdue(now=T)`` (the set-based UPDATE … RETURNING + timeline INSERT, the
outbox events in chunks of 1,000, the audit entry), then one ``auto_close(now=T)``. Checked: the number
escalated equals the overdue count computed beforehand, an "escalated" timeline event exists for each,
each moved exactly one level; the number auto-closed equals the resolved cases past the cutoff, each
with an "auto_closed" event. Figures are JSON lines on stdout, logs on stderr.
"""
from __future__ import annotations

import datetime as dt
import sys
import time

from _support import bench_slug, drop_district, figure, log, quiet_stdout, setup_django, size

T = dt.datetime(2026, 6, 10, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))  # a Wednesday

OPEN_SQL = """
INSERT INTO {case} (ref, channel, category_id, title, description, grid_id, community_id, reporter_contact_encrypted,
    reporter_contact_index, status, assign_mode, assignee_id, responsible_kind, responsible_code, rlist_id,
    submitted_at, response_due, resolution_due, responded_at, escalation_level, owner_level, next_escalation_at,
    reject_reason, result, reopen_count, updated_at, address, external_id, media_url)
SELECT 'BEN-' || lpad(i::text, 7, '0'), 'snap', (%(cats)s::bigint[])[1 + i %% %(ncat)s], '楼道堆物 #' || i,
    '三单元二楼楼道堆放纸箱，影响通行。', %(grid)s, %(community)s, '', '',
    s.status, CASE WHEN s.status = 'submitted' THEN 'grab' ELSE 'dispatch' END,
    CASE WHEN s.status = 'submitted' THEN NULL ELSE %(worker)s END,
    'grid_workers', 'G0101', %(rlist)s,
    s.submitted, s.response_due, s.resolution_due,
    CASE WHEN s.status IN ('accepted', 'in_progress') THEN s.submitted + interval '30 minutes' END,
    s.level, s.level, s.next_at, '', '', 0, s.submitted, '', '', ''
FROM generate_series(1, %(n)s) AS i,
LATERAL (SELECT i %% 100 AS b) AS k,
LATERAL (
    SELECT
        CASE WHEN k.b < 5 THEN (CASE WHEN i %% 2 = 0 THEN 'submitted' ELSE 'assigned' END)
             WHEN k.b < 10 THEN (CASE WHEN i %% 2 = 0 THEN 'accepted' ELSE 'in_progress' END)
             ELSE (ARRAY['submitted', 'assigned', 'assigned', 'accepted', 'in_progress'])[1 + i %% 5] END AS status,
        CASE WHEN k.b BETWEEN 10 AND 11 THEN 4 ELSE 0 END AS level,
        CASE WHEN k.b < 5 THEN %(t)s - interval '1 hour' * (1 + i %% 20) - interval '24 hours'
             WHEN k.b < 10 THEN %(t)s - interval '1 hour' * (1 + i %% 48) - interval '5 days'
             WHEN k.b < 12 THEN %(t)s - interval '20 days'
             ELSE %(t)s - interval '1 minute' * (i %% 1440) END AS submitted,
        CASE WHEN k.b < 5 THEN %(t)s - interval '1 hour' * (1 + i %% 20)
             WHEN k.b < 10 THEN %(t)s - interval '1 hour' * (1 + i %% 48) - interval '4 days'
             WHEN k.b < 12 THEN %(t)s - interval '19 days'
             ELSE %(t)s + interval '1 hour' * (1 + i %% 72) END AS response_due,
        CASE WHEN k.b < 5 THEN %(t)s + interval '5 days'
             WHEN k.b < 10 THEN %(t)s - interval '1 hour' * (1 + i %% 48)
             WHEN k.b < 12 THEN %(t)s - interval '12 days'
             ELSE %(t)s + interval '1 hour' * (73 + i %% 96) END AS resolution_due,
        CASE WHEN k.b < 5 THEN %(t)s - interval '1 hour' * (1 + i %% 20)
             WHEN k.b < 10 THEN %(t)s - interval '1 hour' * (1 + i %% 48)
             WHEN k.b < 12 THEN NULL
             ELSE %(t)s + interval '1 hour' * (1 + i %% 72) END AS next_at
) AS s
"""

RESOLVED_SQL = """
INSERT INTO {case} (ref, channel, category_id, title, description, grid_id, community_id, reporter_contact_encrypted,
    reporter_contact_index, status, assign_mode, assignee_id, responsible_kind, responsible_code, rlist_id,
    submitted_at, response_due, resolution_due, responded_at, resolved_at, result, escalation_level, owner_level,
    next_escalation_at, reject_reason, reopen_count, updated_at, address, external_id, media_url)
SELECT 'BER-' || lpad(i::text, 7, '0'), 'snap', (%(cats)s::bigint[])[1 + i %% %(ncat)s], '已办结 #' || i, '',
    %(grid)s, %(community)s, '', '', 'resolved', 'dispatch', %(worker)s, 'grid_workers', 'G0101', %(rlist)s,
    r.at - interval '2 days', r.at - interval '1 day', r.at + interval '3 days', r.at - interval '1 day', r.at,
    '已清理。', 0, 0, NULL, '', 0, r.at, '', '', ''
FROM generate_series(1, %(n)s) AS i,
LATERAL (SELECT %(t)s - interval '1 hour' - interval '1 minute' * ((2 * i) %% (14 * 1440)) AS at) AS r
"""

EVENTS_SQL = """
INSERT INTO {event} (case_id, at, actor_id, kind, from_status, to_status, note, data)
SELECT id, submitted_at, NULL, 'submitted', '', 'submitted', '', '{{"channel": "snap"}}'::jsonb FROM {case}
"""


def build(district) -> dict:
    from django_tenants.utils import tenant_context

    from accounts.services import create_user
    from kernel.services import assign_role
    from modules.registry import services as registry

    with tenant_context(district):
        street = registry.create_street(actor=None, code="S01", name="基准街道")
        community = registry.create_community(actor=None, code="C01", name="基准社区", street=street)
        worker = create_user(actor=None, username="gw_g0101", password=None)
        assign_role(actor=None, user=worker, role="grid_worker", scope_kind="grid", scope_code="G0101")
        grid = registry.create_grid(actor=None, code="G0101", name="第一网格", community=community, worker=worker)
    return {"grid": grid.pk, "community": community.pk, "worker": worker.pk}


def main() -> int:
    n_open = size(100_000, 200, env="BENCH_CASES")
    n_resolved = size(10_000, 40, env="BENCH_RESOLVED")
    setup_django()
    from django.db import connection
    from django_tenants.utils import tenant_context

    from tenants.services import create_district

    slug = bench_slug()
    try:
        with quiet_stdout():
            created = create_district(slug=slug, name_zh="基准区", name_en="Bench",
                                      modules=["registry", "codes", "cases"], use_pool=False)
            district = created.district
            connection.set_schema_to_public()
            log(f"district {slug} ({created.seconds:.2f}s)")
            ids = build(district)

            from modules.cases import selectors, services
            from modules.cases.models import Case, CaseEvent, Category

            with tenant_context(district):
                cats = list(Category.objects.values_list("pk", flat=True))
                rlist = selectors.current_rlist()
                params = {**ids, "cats": cats, "ncat": len(cats), "rlist": rlist.pk if rlist else None, "t": T}
                tables = {"case": Case._meta.db_table, "event": CaseEvent._meta.db_table}
                started = time.perf_counter()
                with connection.cursor() as cursor:
                    cursor.execute(OPEN_SQL.format(**tables), {**params, "n": n_open})
                    cursor.execute(RESOLVED_SQL.format(**tables), {**params, "n": n_resolved})
                    cursor.execute(EVENTS_SQL.format(**tables))
                    cursor.execute(f"ANALYZE {tables['case']}")
                    cursor.execute(f"ANALYZE {tables['event']}")
                log(f"generated {n_open:,} open + {n_resolved:,} resolved cases and their events in "
                    f"{time.perf_counter() - started:.1f}s (not timed)")

                open_statuses = [str(s) for s in Case.OPEN]
                overdue = set(Case.objects.filter(status__in=open_statuses, next_escalation_at__lte=T,
                                                  owner_level__lt=4).values_list("pk", flat=True))
                by_kind = {
                    "response": Case.objects.filter(pk__in=overdue, responded_at__isnull=True).count(),
                    "resolution": Case.objects.filter(pk__in=overdue, responded_at__isnull=False).count(),
                }
                levels_before = dict(Case.objects.filter(pk__in=overdue).values_list("pk", "owner_level"))
                cutoff = T - dt.timedelta(days=services._config()["auto_close_days"])
                closable = Case.objects.filter(status="resolved", resolved_at__lte=cutoff).count()
                log(f"overdue at T: {len(overdue):,} ({len(overdue) / n_open:.1%} of open; "
                    f"{by_kind['response']:,} for response, {by_kind['resolution']:,} for resolution); "
                    f"{closable:,} resolved cases past the auto-close cutoff")

                started = time.perf_counter()
                escalated = services.escalate_overdue(now=T)
                sweep_seconds = time.perf_counter() - started
                log(f"escalate_overdue: {escalated:,} cases in {sweep_seconds:.3f}s")

                started = time.perf_counter()
                closed = services.auto_close(now=T)
                close_seconds = time.perf_counter() - started
                log(f"auto_close: {closed:,} cases in {close_seconds:.3f}s")

                events_escalated = CaseEvent.objects.filter(kind="escalated", at=T).values_list("case_id", flat=True)
                escalated_ids = set(events_escalated)
                moved_one = sum(1 for pk, level in Case.objects.filter(pk__in=overdue)
                                .values_list("pk", "owner_level") if level == levels_before[pk] + 1)
                closed_events = CaseEvent.objects.filter(kind="auto_closed", at=T).count()
                still_overdue = Case.objects.filter(status__in=open_statuses, next_escalation_at__lte=T,
                                                    owner_level__lt=4).count()
                again = services.escalate_overdue(now=T)  # not timed: a second sweep at the same T moves nothing
            connection.set_schema_to_public()
            log(f"checks: {len(events_escalated):,} 'escalated' events on {len(escalated_ids):,} cases, "
                f"{moved_one:,} moved exactly one level, {still_overdue} still due at T, second sweep {again}; "
                f"{closed_events:,} 'auto_closed' events")
            problems = []
            if escalated != len(overdue):
                problems.append(f"escalated {escalated} but {len(overdue)} were overdue")
            if escalated_ids != overdue or len(events_escalated) != escalated:
                problems.append("the 'escalated' timeline events do not match the overdue cases")
            if moved_one != len(overdue):
                problems.append(f"only {moved_one} of {len(overdue)} moved exactly one level")
            if still_overdue or again:
                problems.append(f"{still_overdue} still due, second sweep moved {again}")
            if closed != closable or closed_events != closed:
                problems.append(f"auto-closed {closed} ({closed_events} events) of {closable} past the cutoff")
            if problems:
                raise SystemExit("; ".join(problems))
    finally:
        with quiet_stdout():
            connection.set_schema_to_public()
            drop_district(slug=slug)
            log(f"dropped {slug}")

    figure("sla_sweep_seconds", round(sweep_seconds, 3), "s", "< 5 s")
    figure("sla_sweep_escalated", escalated, "cases")
    figure("sla_sweep_open_cases", n_open, "cases")
    figure("auto_close_seconds", round(close_seconds, 3), "s")
    figure("auto_close_closed", closed, "cases")
    return 0


if __name__ == "__main__":
    sys.exit(main())
