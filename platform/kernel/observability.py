"""Sentry: errors tagged with the tenant; no personal data leaves the platform. Process counters."""
from __future__ import annotations

import re
import threading

PHONE = re.compile(r"(?<!\d)(?:\+?86)?1[3-9]\d{9}(?!\d)")
ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
SENSITIVE_KEYS = {"phone", "code", "id_number", "password", "token", "otp", "authorization", "cookie", "x-api-key"}


def scrub(value):
    if isinstance(value, str):
        return ID_NUMBER.sub("[id-number]", PHONE.sub("[phone]", value))
    if isinstance(value, dict):
        return {k: ("[filtered]" if str(k).lower() in SENSITIVE_KEYS else scrub(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


def before_send(event, hint):
    from django.db import connection

    event.setdefault("tags", {})["tenant"] = getattr(connection, "schema_name", "") or "public"
    event.pop("user", None)
    request = event.get("request")
    if request:
        request.pop("cookies", None)
        request.pop("data", None)
        request["headers"] = {k: v for k, v in (request.get("headers") or {}).items()
                              if k.lower() not in SENSITIVE_KEYS}
        if request.get("query_string"):
            request["query_string"] = scrub(request["query_string"])
    return scrub(event)


def init_sentry(dsn: str) -> None:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        send_default_pii=False,
        include_local_variables=False,
        before_send=before_send,
        before_breadcrumb=lambda crumb, hint: scrub(crumb),
        traces_sample_rate=0.0,
    )


# --- process counters ---------------------------------------------------------------------------------
# Plain counters of this process (there is no metrics endpoint yet): readiness (/ready/) shows them, and
# the WARNING lines that go with them carry the running totals.

_counters: dict[str, int] = {}
_counters_lock = threading.Lock()


def count(name: str, n: int = 1) -> int:
    """Add ``n`` to this process's counter ``name``; returns the new total."""
    with _counters_lock:
        total = _counters[name] = _counters.get(name, 0) + n
    return total


def counters() -> dict[str, int]:
    with _counters_lock:
        return dict(sorted(_counters.items()))
