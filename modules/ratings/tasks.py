"""Celery finds an app's tasks in ``<app>/tasks.py``: the ratings module's live in its sub-packages."""
from modules.ratings.integrity.tasks import resume_scans, run_scan, scan_periodic  # noqa: F401
from modules.ratings.reports.tasks import award_yearly_stars  # noqa: F401
