"""The periodic anti-gaming pass over the whole ledger: the rules of ``integrity.checks`` as set-based
SQL, one statement per rule (window functions and GROUP BY over ``ratings_rating``), the findings joined
per rating, and one bulk statement that holds the counted ratings found and takes them out of the
tallies (the same sums ``tally.rebuild`` makes, subtracted for the moved rows only).

What it holds: counted ratings a rule matches that no reviewer has decided (``decided_at`` empty: a
rating a reviewer released is never held again). It catches what ``check_new`` could not see at
submission: two submissions racing past a limit, ratings made while a rule was off or looser, ratings
loaded in bulk. Each rule reads the ledger as it is now (live ratings: counted or held), ordered by
``(created_at, id)``, so a rating is judged by the ratings before it, as ``check_new`` judged it.

``scan_all`` runs in one transaction (the caller's, or its own) and records one audit entry
``ratings.scan`` with the counts. ``start_scan`` / ``run_scan`` (``integrity.services``) run it as a
recorded job of the kernel's runner (``ScanRun``)."""
from __future__ import annotations

import json
import time
from collections import defaultdict

from django.conf import settings as django_settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone, translation

from kernel import audit
from modules.ratings.config import settings
from modules.ratings.integrity.checks import RULES, finding, swing_finding
from modules.ratings.ledger.models import BAD_MAX

SUBJECTS = "subject_kind IN ('official', 'merchant')"
LIVE = "scan_live"  # the temporary table each rule reads (see ``_load_live``)

# One scan of the ledger into a narrow temporary table: every live rating of an official or a merchant
# up to ``now``, with whole-number keys (sorting and hashing integers is what makes 600,000 rows cheap):
# ``s`` the subject (official id, or minus the merchant id), the device and network hashes as 64-bit
# hashes of the text (blank: NULL), ``candidate`` = counted and never decided by a reviewer, ``bk`` the
# span of ``burst_minutes`` it falls in (``find_burst``).
_LOAD_SQL = f"""
CREATE TEMPORARY TABLE {LIVE} ON COMMIT DROP AS
SELECT id, COALESCE(official_id, -merchant_id) AS s, official_id, merchant_id, department_id, created_at, level,
       state = 'counted' AS counted, (state = 'counted' AND decided_at IS NULL) AS candidate,
       follow_on_of_id IS NULL AS own, period_key COLLATE "C" AS period_key, rater_id, rater_household_id,
       hashtextextended(NULLIF(device_hash, ''), 0) AS device, hashtextextended(NULLIF(network_hash, ''), 0) AS network,
       floor(extract(epoch FROM created_at) / (%(minutes)s * 60))::bigint AS bk
FROM ratings_rating
WHERE state IN ('counted', 'held') AND {SUBJECTS} AND created_at <= %(now)s
"""


def _rows(sql: str, params: dict | None = None) -> list[tuple]:
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def _keep_temp_in_memory() -> None:
    """Let ``scan_live`` stay in memory (temp_buffers; PostgreSQL refuses the change once the session has
    used a temporary table: then it is read through the OS cache, slower but the same)."""
    try:
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute("SET LOCAL temp_buffers = '256MB'")
    except DatabaseError:
        pass


def _load_live(now, rules: dict) -> int:
    """Fill ``scan_live`` (dropped at commit); returns how many counted ratings it holds."""
    with connection.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {LIVE}")
        cur.execute(_LOAD_SQL, {"now": now, "minutes": int(rules["burst_minutes"])})
        cur.execute(f"ANALYZE {LIVE}")
        cur.execute(f"SELECT count(*) FILTER (WHERE counted) FROM {LIVE}")
        return cur.fetchone()[0]


def find_burst(rules: dict, now) -> list[tuple[int, dict]]:
    """Only the ratings in "hot" spans are numbered. A subject's ratings are counted per span of
    ``burst_minutes`` (``bk``); the window before a rating lies within its span and the one before, so it
    can only be in a burst when the two hold more than ``burst_count`` together, which needs one of them
    to hold more than half of it: only those spans and the ones after them are summed exactly."""
    limit, minutes = int(rules["burst_count"]), int(rules["burst_minutes"])
    sql = f"""
        WITH b AS MATERIALIZED (
            SELECT s, bk, count(*) AS n FROM {LIVE} GROUP BY 1, 2
        ), big AS (
            SELECT s, bk FROM b WHERE n * 2 > %(limit)s
        ), maybe AS (
            SELECT s, bk FROM big UNION SELECT s, bk + 1 FROM big
        ), hot AS MATERIALIZED (
            SELECT m.s, m.bk FROM maybe m
            LEFT JOIN b cur ON cur.s = m.s AND cur.bk = m.bk
            LEFT JOIN b prev ON prev.s = m.s AND prev.bk = m.bk - 1
            WHERE COALESCE(cur.n, 0) + COALESCE(prev.n, 0) > %(limit)s
        ), need AS (
            SELECT s, bk FROM hot UNION SELECT s, bk - 1 FROM hot
        )
        SELECT id, n - 1 FROM (
            SELECT r.id, r.candidate, (r.s, r.bk) IN (SELECT s, bk FROM hot) AS in_hot,
                   count(*) OVER (PARTITION BY r.s ORDER BY r.created_at
                                  RANGE BETWEEN make_interval(mins => %(minutes)s) PRECEDING AND CURRENT ROW) AS n
            FROM {LIVE} r JOIN need ON need.s = r.s AND need.bk = r.bk
        ) x
        WHERE candidate AND in_hot AND n - 1 >= %(limit)s"""
    return [(pk, finding("burst", {"before": before, "minutes": minutes, "limit": limit}))
            for pk, before in _rows(sql, {"minutes": minutes, "limit": limit})]


def find_same_source(rule: str, rules: dict, now) -> list[tuple[int, dict]]:
    """Groups (subject, period, source) with more than ``same_source_max`` live raters are found by a
    hash aggregate first; only their rows are numbered (the ``same_source_max + 1``-th rater on is held)."""
    column = {"same_household": "rater_household_id", "same_device": "device", "same_network": "network"}[rule]
    most = int(rules["same_source_max"])
    sql = f"""
        WITH g AS (
            SELECT s, period_key, {column} AS v FROM {LIVE}
            WHERE own AND {column} IS NOT NULL
            GROUP BY 1, 2, 3 HAVING count(*) > %(most)s
        )
        SELECT id, period_key, rn - 1 FROM (
            SELECT r.id, r.candidate, r.period_key,
                   row_number() OVER (PARTITION BY r.s, r.period_key, r.{column} ORDER BY r.created_at, r.id) AS rn
            FROM {LIVE} r JOIN g ON g.s = r.s AND g.period_key = r.period_key AND g.v = r.{column}
            WHERE r.own
        ) x
        WHERE candidate AND rn > %(most)s"""
    return [(pk, finding(rule, {"others": others, "period": period, "limit": most}))
            for pk, period, others in _rows(sql, {"most": most})]


def find_colleague(rules: dict, now) -> list[tuple[int, dict]]:
    sql = f"""
        SELECT r.id, o.id = r.official_id
        FROM {LIVE} r
        JOIN registry_official so ON so.id = r.official_id
        JOIN registry_official o ON o.user_id = r.rater_id AND o.department_id = COALESCE(r.department_id,
                                                                                          so.department_id)
        WHERE r.candidate"""
    return [(pk, finding("colleague", variant="colleague_self" if self_rated else None))
            for pk, self_rated in _rows(sql)]


def find_family(rules: dict, now) -> list[tuple[int, dict]]:
    sql = f"""
        WITH homes AS (
            SELECT res.user_id, m.household_id
            FROM registry_resident res
            JOIN registry_membership m ON m.resident_id = res.id AND m.ended_at IS NULL
            WHERE res.user_id IS NOT NULL
        ), subj AS (
            SELECT r.id, r.merchant_id IS NOT NULL AS merchant, r.rater_id, r.rater_household_id,
                   COALESCE(o.user_id, mc.owner_id) AS who
            FROM {LIVE} r
            LEFT JOIN registry_official o ON o.id = r.official_id
            LEFT JOIN registry_merchant mc ON mc.id = r.merchant_id
            WHERE r.candidate AND COALESCE(o.user_id, mc.owner_id) IS NOT NULL
              AND (r.rater_id IS NOT NULL OR r.rater_household_id IS NOT NULL)
        )
        SELECT id, true FROM subj WHERE merchant AND rater_id = who
        UNION
        SELECT s.id, false
        FROM subj s
        JOIN homes sh ON sh.user_id = s.who
        LEFT JOIN homes rh ON rh.user_id = s.rater_id AND rh.household_id = sh.household_id
        WHERE NOT (s.merchant AND s.rater_id IS NOT DISTINCT FROM s.who)
          AND (sh.household_id = s.rater_household_id OR rh.user_id IS NOT NULL)"""
    return [(pk, finding("family", variant="family_owner" if owner else None)) for pk, owner in _rows(sql)]


def find_swing(rules: dict, now) -> list[tuple[int, dict]]:
    window = int(rules["swing_window"])
    history_min, drop = int(rules["swing_history_min"]), float(rules["swing_drop"])
    # frame offsets are written in (validated integers): PostgreSQL wants them constant
    sql = f"""
        SELECT id, level, recent_n, COALESCE(recent_sum, 0), base_n, base_sum FROM (
            SELECT id, level, candidate,
                   count(*) OVER (w ROWS BETWEEN {window - 1:d} PRECEDING AND 1 PRECEDING) AS recent_n,
                   sum(level) OVER (w ROWS BETWEEN {window - 1:d} PRECEDING AND 1 PRECEDING) AS recent_sum,
                   count(*) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND {window:d} PRECEDING) AS base_n,
                   sum(level) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND {window:d} PRECEDING) AS base_sum
            FROM {LIVE}
            WHERE counted
            WINDOW w AS (PARTITION BY s ORDER BY created_at, id)
        ) x
        WHERE candidate AND base_n >= %(history_min)s AND base_n > 0
          AND level < base_sum::numeric / base_n
          AND base_sum::numeric / base_n - (COALESCE(recent_sum, 0) + level)::numeric / (recent_n + 1)
              >= %(drop)s - 0.000000001"""
    found = []
    for pk, level, recent_n, recent_sum, base_n, base_sum in _rows(sql, {"history_min": history_min,
                                                                        "drop": drop}):
        swing = swing_finding(level=level, recent_n=recent_n, recent_sum=recent_sum, base_n=base_n,
                              base_sum=base_sum, rules=rules)
        if swing:
            found.append((pk, swing))
    return found


# --- holding what was found ------------------------------------------------------------------------------

_HOLD_SQL = """
WITH found AS (
    SELECT key::bigint AS id, value AS reasons FROM jsonb_each(%(found)s::jsonb)
), moved AS (
    UPDATE ratings_rating r
       SET state = 'held', hold_reasons = COALESCE(r.hold_reasons, '[]'::jsonb) || found.reasons
      FROM found
     WHERE r.id = found.id AND r.state = 'counted' AND r.decided_at IS NULL
    RETURNING r.id, r.created_at, r.subject_kind, r.official_id, r.merchant_id, r.department_id, r.grid_id,
              r.channel, r.level, r.scores
), out_of_tallies AS (
    INSERT INTO ratings_tally (month, subject_kind, official_id, merchant_id, department_id, grid_id, channel,
                               dimension, n, total, bad)
    SELECT month, subject_kind, official_id, merchant_id, department_id, grid_id, channel, dimension,
           -count(*), -sum(level), -count(*) FILTER (WHERE level <= %(bad_max)s)
    FROM (
        SELECT date_trunc('month', m.created_at AT TIME ZONE %(tz)s)::date AS month, m.subject_kind,
               m.official_id, m.merchant_id, m.department_id, m.grid_id, m.channel, d.dimension, d.level
        FROM moved m
        CROSS JOIN LATERAL (
            SELECT ''::text AS dimension, m.level AS level
            UNION ALL
            SELECT s.key, s.value::int FROM jsonb_each_text(m.scores) s
        ) d
    ) x
    GROUP BY month, subject_kind, official_id, merchant_id, department_id, grid_id, channel, dimension
    ON CONFLICT ON CONSTRAINT ratings_tally_key DO UPDATE SET n = ratings_tally.n + EXCLUDED.n,
        total = ratings_tally.total + EXCLUDED.total, bad = ratings_tally.bad + EXCLUDED.bad
)
SELECT id FROM moved
"""


def hold_found(found: dict[int, list[dict]]) -> list[int]:
    """Hold the ratings of ``found`` ({id: findings}) that are still counted and undecided, and take
    them out of the tallies, in one statement. Returns the ids it held."""
    if not found:
        return []
    params = {"found": json.dumps({str(pk): reasons for pk, reasons in found.items()}, ensure_ascii=False),
              "bad_max": BAD_MAX, "tz": timezone.get_current_timezone_name()}
    return [pk for (pk,) in _rows(_HOLD_SQL, params)]


FINDERS = (
    ("burst", find_burst),
    ("same_household", lambda rules, now: find_same_source("same_household", rules, now)),
    ("same_device", lambda rules, now: find_same_source("same_device", rules, now)),
    ("same_network", lambda rules, now: find_same_source("same_network", rules, now)),
    ("colleague", find_colleague),
    ("family", find_family),
    ("swing", find_swing),
)


def scan_all(*, now=None, actor=None, run_id: int | None = None) -> dict:
    """Run every rule over the ledger and hold what they find (see the module's words). Returns
    ``{rule: ratings held with that finding, …, "held": ratings held, "checked": counted ratings looked
    at, "seconds": …}``; a rating with two findings counts once in ``held`` and once under each rule."""
    started = time.monotonic()
    now = now or timezone.now()
    rules = settings()["integrity"]
    with transaction.atomic():
        with connection.cursor() as cur:
            # big sorts and hashes stay in memory; JIT compiling costs more than it saves on these
            cur.execute("SET LOCAL work_mem = '256MB'")
            cur.execute("SET LOCAL jit = off")
            cur.execute("SET LOCAL max_parallel_workers_per_gather = 0")  # each worker would build the hashes again
        _keep_temp_in_memory()
        checked = _load_live(now, rules)
        found: dict[int, list[dict]] = defaultdict(list)
        with translation.override(django_settings.LANGUAGE_CODE):
            for rule, finder in FINDERS:
                if rule in ("colleague", "family") and not rules.get("flag_colleagues", True):
                    continue
                for pk, reason in finder(rules, now):
                    reason["by"] = "scan" if run_id is None else f"scan:{run_id}"
                    found[pk].append(reason)
        held = set(hold_found(found))
        counts = {rule: 0 for rule in RULES}
        for pk in held:
            for reason in found[pk]:
                counts[reason["rule"]] += 1
        result = {**counts, "held": len(held), "checked": checked,
                  "seconds": round(time.monotonic() - started, 3)}
        audit.record(actor=actor, action="ratings.scan", target_type="ratings.scanrun" if run_id else "",
                     target_id=str(run_id or ""), after={**result, "ratings": sorted(held)[:200]})
    return result
