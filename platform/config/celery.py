"""The Celery app. Tasks carry their district's schema in the ``_schema_name`` header and the
worker re-enters that schema before running them (tenant-schemas-celery)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

_root = Path(__file__).resolve().parents[2]
for _p in (str(_root), str(_root / "platform")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from config.env import ensure_database  # noqa: E402

ensure_database()

from tenant_schemas_celery.app import CeleryApp  # noqa: E402

app = CeleryApp("mashang")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
