"""Keeping ``Tally`` equal to the sum of the counted ratings.

``add(rating, sign)`` moves one rating in (+1) or out (-1) of the tallies with one upsert statement (the
overall level and each dimension); ``ledger.state.change_state`` calls it whenever a rating starts or
stops counting, inside the same transaction. ``rebuild()`` recomputes every tally from the ratings (after
a bulk load, or to prove the tallies right)."""
from __future__ import annotations

from django.db import connection
from django.utils import timezone

from modules.ratings.ledger.models import BAD_MAX, Rating, State
from modules.ratings.ledger.periods import month_of

_COLUMNS = "month, subject_kind, official_id, merchant_id, department_id, grid_id, channel, dimension, n, total, bad"


def _rows(rating: Rating, sign: int) -> list[tuple]:
    month = month_of(rating.created_at)
    key = (month, rating.subject_kind, rating.official_id, rating.merchant_id, rating.department_id, rating.grid_id,
           rating.channel)
    levels = [("", rating.level)] + [(str(k), int(v)) for k, v in sorted((rating.scores or {}).items())]
    return [(*key, dim, sign, sign * level, sign * int(level <= BAD_MAX)) for dim, level in levels]


def add(rating: Rating, sign: int) -> None:
    """Count ``rating`` in (sign=+1) or out (sign=-1) of its tallies."""
    if sign not in (1, -1):
        raise ValueError("sign is +1 or -1")
    rows = _rows(rating, sign)
    placeholders = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"] * len(rows))
    params = [value for row in rows for value in row]
    with connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO ratings_tally ({_COLUMNS}) VALUES {placeholders} "
            "ON CONFLICT ON CONSTRAINT ratings_tally_key DO UPDATE SET n = ratings_tally.n + EXCLUDED.n, "
            "total = ratings_tally.total + EXCLUDED.total, bad = ratings_tally.bad + EXCLUDED.bad", params)


def rebuild() -> int:
    """Recompute every tally from the counted ratings; returns the number of tally rows. One statement
    pair, in the caller's transaction (run it in one)."""
    tz = timezone.get_current_timezone_name()
    with connection.cursor() as cur:
        cur.execute("DELETE FROM ratings_tally")
        cur.execute(
            f"""
            INSERT INTO ratings_tally ({_COLUMNS})
            SELECT month, subject_kind, official_id, merchant_id, department_id, grid_id, channel, dimension,
                   count(*), sum(level), count(*) FILTER (WHERE level <= %s)
            FROM (
                SELECT date_trunc('month', r.created_at AT TIME ZONE %s)::date AS month, r.subject_kind,
                       r.official_id, r.merchant_id, r.department_id, r.grid_id, r.channel, d.dimension, d.level
                FROM ratings_rating r
                CROSS JOIN LATERAL (
                    SELECT ''::text AS dimension, r.level AS level
                    UNION ALL
                    SELECT s.key, s.value::int FROM jsonb_each_text(r.scores) s
                ) d
                WHERE r.state = %s
            ) x
            GROUP BY month, subject_kind, official_id, merchant_id, department_id, grid_id, channel, dimension
            """, [BAD_MAX, tz, State.COUNTED])
        return cur.rowcount
