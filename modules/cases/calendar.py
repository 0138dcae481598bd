"""Working-time arithmetic in the district's local time (Asia/Shanghai).

A day is a working day when it is Monday–Friday, unless the holiday calendar says otherwise: a
listed weekday holiday is off, a listed weekend make-up day (调休上班) is on.

Conventions (the 12345 rule "N 个工作日内办结"): counting starts the day after receipt, and a time
limit of N working days ends at the end (23:59:59) of the Nth working day after the day of receipt.
A limit in hours is elapsed clock time: a 24-hour response limit runs through nights and holidays,
as respond-on-receipt (接诉即办) requires."""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")
END_OF_DAY = dt.time(23, 59, 59)
MAX_SEARCH_DAYS = 3660  # a limit that finds no working day in ten years is a broken calendar


@dataclass(frozen=True)
class WorkCalendar:
    """``overrides`` maps a date to whether it is a working day (the district's Holiday rows)."""

    overrides: Mapping[dt.date, bool] = field(default_factory=dict)

    def is_working_day(self, day: dt.date) -> bool:
        if day in self.overrides:
            return self.overrides[day]
        return day.weekday() < 5

    def add_working_days(self, start: dt.datetime, days: int) -> dt.datetime:
        """End of the ``days``-th working day after the (local) day of ``start``."""
        if days < 0:
            raise ValueError("days must be >= 0")
        local = start.astimezone(TZ)
        day = local.date()
        if days == 0:
            return dt.datetime.combine(day, END_OF_DAY, tzinfo=TZ)
        counted = 0
        for _ in range(MAX_SEARCH_DAYS):
            day += dt.timedelta(days=1)
            if self.is_working_day(day):
                counted += 1
                if counted == days:
                    return dt.datetime.combine(day, END_OF_DAY, tzinfo=TZ)
        raise ValueError("no working days in the calendar")

    @staticmethod
    def add_hours(start: dt.datetime, hours: int) -> dt.datetime:
        return start + dt.timedelta(hours=hours)

    def due(self, start: dt.datetime, amount: int, unit: str) -> dt.datetime:
        if unit == "working_days":
            return self.add_working_days(start, amount)
        if unit == "hours":
            return self.add_hours(start, amount)
        raise ValueError(f"unknown time-limit unit {unit!r}")

    def working_days_between(self, start: dt.date, end: dt.date) -> int:
        """Working days in (start, end]."""
        n, day = 0, start
        while day < end:
            day += dt.timedelta(days=1)
            n += self.is_working_day(day)
        return n


def local_date(moment: dt.datetime) -> dt.date:
    return moment.astimezone(TZ).date()
