"""Celery tasks of ratings.reports. Each runs in its district's schema (tenant-schemas-celery).

``award_yearly_stars``: periodic, once a day in every district with ratings on (the spec's
``PeriodicTask("modules.ratings.reports.tasks.award_yearly_stars", 86400)``); on its first run of a new
year it awards the past year's star merchants, then does nothing until the next year (a year already
awarded, by hand or by the task, is left alone: ``services.award_last_year_if_due``)."""
from __future__ import annotations

from celery import shared_task

from modules.ratings.reports import services


@shared_task(name="modules.ratings.reports.tasks.award_yearly_stars")
def award_yearly_stars() -> int | None:
    return services.award_last_year_if_due()
