"""drf-spectacular hook: a district's API schema lists only the modules it has on."""
from __future__ import annotations

from django.db import connection


def drop_disabled_modules(endpoints, **kwargs):
    district = getattr(connection, "tenant", None)
    if district is None or getattr(district, "is_public", True):
        return [e for e in endpoints if getattr(e[3], "module_key", None) is None]
    return [e for e in endpoints if (k := getattr(e[3], "module_key", None)) is None or district.has_module(k)]
