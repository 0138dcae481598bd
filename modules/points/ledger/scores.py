"""The compound civility score (小区文明积分) and its ranking, recomputed in one statement: by the
periodic task on the module's spec (every 10 minutes, idempotent) and soon after what changes it much
(a verified report, a finished batch)."""
from __future__ import annotations

import datetime as dt

from django.db import connection, transaction
from django.utils import timezone

from kernel import events
from modules.points.ledger.models import Balance, CompoundScore, ReportFact
from modules.points.ledger.services import config
from modules.registry.models import Building, Compound, Household, Membership

REFRESH_TASK = "modules.points.tasks.refresh_compound_scores"

# --- compound civility score ----------------------------------------------------------------------------

def refresh_compound_scores(now=None) -> int:
    """Recompute every compound's civility score and rank in one statement (periodic task):

        score = civic points per current resident
                + 100 × (praise_weight × praises + report_weight × reports made − offence_weight × offences)
                  / households

    counting verified reports of the last ``window_days``."""
    cfg = config().get("compound_score") or {}
    now = now or timezone.now()
    since = now - dt.timedelta(days=int(cfg.get("window_days", 365)))
    t = {m.__name__: m._meta.db_table for m in (Membership, Household, Building, Compound, Balance, ReportFact,
                                                 CompoundScore)}
    sql = f"""
    WITH cur AS (
        SELECT DISTINCT b.compound_id, m.resident_id
        FROM {t['Membership']} m JOIN {t['Household']} h ON h.id = m.household_id
        JOIN {t['Building']} b ON b.id = h.building_id
        WHERE m.ended_at IS NULL
    ), pts AS (
        SELECT cur.compound_id, count(*) AS residents, coalesce(sum(bal.points), 0) AS civic
        FROM cur LEFT JOIN {t['Balance']} bal ON bal.resident_id = cur.resident_id AND bal.kind = 'civic'
        GROUP BY cur.compound_id
    ), hh AS (
        SELECT b.compound_id, count(*) AS households
        FROM {t['Household']} h JOIN {t['Building']} b ON b.id = h.building_id GROUP BY b.compound_id
    ), facts AS (
        SELECT b.compound_id,
               count(*) FILTER (WHERE f.role = 'made') AS made,
               count(*) FILTER (WHERE f.role = 'praise') AS praises,
               count(*) FILTER (WHERE f.role = 'offence') AS offences
        FROM (
            SELECT reporter_household_id AS hid, 'made' AS role FROM {t['ReportFact']} WHERE verified_at >= %(since)s
            UNION ALL
            SELECT praised_household_id, 'praise' FROM {t['ReportFact']} WHERE verified_at >= %(since)s
            UNION ALL
            SELECT offender_household_id, 'offence' FROM {t['ReportFact']} WHERE verified_at >= %(since)s
        ) f JOIN {t['Household']} h ON h.id = f.hid JOIN {t['Building']} b ON b.id = h.building_id
        GROUP BY b.compound_id
    ), scored AS (
        SELECT c.id AS compound_id, coalesce(hh.households, 0) AS households, coalesce(pts.residents, 0) AS residents,
               coalesce(pts.civic, 0) AS civic, coalesce(facts.made, 0) AS made,
               coalesce(facts.praises, 0) AS praises, coalesce(facts.offences, 0) AS offences,
               round((coalesce(pts.civic, 0)::numeric / greatest(coalesce(pts.residents, 0), 1))
                     + 100.0 * (%(pw)s * coalesce(facts.praises, 0) + %(rw)s * coalesce(facts.made, 0)
                                - %(ow)s * coalesce(facts.offences, 0)) / greatest(coalesce(hh.households, 0), 1),
                     2) AS score
        FROM {t['Compound']} c LEFT JOIN hh ON hh.compound_id = c.id LEFT JOIN pts ON pts.compound_id = c.id
        LEFT JOIN facts ON facts.compound_id = c.id
    )
    INSERT INTO {t['CompoundScore']} (compound_id, households, residents, civic_points, reports_made, praises,
                                      offences, score, rank, computed_at)
    SELECT compound_id, households, residents, civic, made, praises, offences, score,
           rank() OVER (ORDER BY score DESC), %(now)s
    FROM scored
    ON CONFLICT (compound_id) DO UPDATE SET households = EXCLUDED.households, residents = EXCLUDED.residents,
        civic_points = EXCLUDED.civic_points, reports_made = EXCLUDED.reports_made, praises = EXCLUDED.praises,
        offences = EXCLUDED.offences, score = EXCLUDED.score, rank = EXCLUDED.rank,
        computed_at = EXCLUDED.computed_at
    """  # noqa: S608 - table names from _meta
    params = {"since": since, "now": now, "pw": float(cfg.get("praise_weight", 2)),
              "rw": float(cfg.get("report_weight", 1)), "ow": float(cfg.get("offence_weight", 3))}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def refresh_scores_soon() -> None:
    """After the current transaction commits, ask a worker to recompute the scores (equal kicks merge;
    if the broker is down the periodic task catches up)."""
    transaction.on_commit(lambda: events.kick(REFRESH_TASK))
