"""Rating periods: the key a rating's date falls in ("2026-12-07", "2026-W49", "2026-12", "2026-Q4",
"2026"), in the district's time zone, and the month a tally row belongs to."""
from __future__ import annotations

import datetime as dt

from django.utils import timezone

PERIODS = ("day", "week", "month", "quarter", "year")


def local_date(at: dt.datetime) -> dt.date:
    return timezone.localtime(at).date()


def period_key(at: dt.datetime, period: str) -> str:
    d = local_date(at)
    if period == "day":
        return d.isoformat()
    if period == "week":
        year, week, _ = d.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "month":
        return f"{d:%Y-%m}"
    if period == "quarter":
        return f"{d.year}-Q{(d.month - 1) // 3 + 1}"
    if period == "year":
        return str(d.year)
    raise ValueError(f"unknown rating period {period!r}; one of {', '.join(PERIODS)}")


def month_of(at: dt.datetime) -> dt.date:
    return local_date(at).replace(day=1)
