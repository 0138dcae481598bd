"""Readiness (/ready/): can this web process serve? The database is required; Redis (the cache and,
as deployed, the Celery broker) is not: without it requests go on (the cache fails open, events wait
in the outbox), so readiness then says "degraded", naming what is missing, with 200, and a load
balancer keeps sending traffic. Only a database that does not answer makes it 503.

Body: {"status": "ok" | "degraded" | "down", "checks": {name: "ok" | "unavailable" | "not checked"},
"degraded": [names], "counters": {this process's counters}}. See infra/RUNBOOK.md sections 1 and 8."""
from __future__ import annotations

import logging

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from kernel.observability import counters

log = logging.getLogger(__name__)

REQUIRED = ("database",)
PING_TIMEOUT = 0.5  # seconds, for the broker's ping


def check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        log.warning("readiness: database unavailable (%s)", type(exc).__name__)
        return "unavailable"
    return "ok"


def check_cache() -> str:
    from django.core.cache import caches

    ping = getattr(caches["default"], "ping", None)  # kernel.redis_cache.FailOpenRedisCache.ping
    if ping is None:
        return "not checked"  # a local-memory cache is always there
    return "ok" if ping() else "unavailable"


def check_broker() -> str:
    url = getattr(settings, "CELERY_BROKER_URL", "") or ""
    if not url.startswith(("redis://", "rediss://")):
        return "not checked"  # the filesystem transport (development) has no server
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=PING_TIMEOUT, socket_timeout=PING_TIMEOUT)
    try:
        client.ping()
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        log.warning("readiness: broker unavailable (%s)", type(exc).__name__)
        return "unavailable"
    finally:
        client.close()
    return "ok"


CHECKS = {"database": check_database, "cache": check_cache, "broker": check_broker}


@never_cache
def readiness(request):
    checks = {name: check() for name, check in CHECKS.items()}
    failing = [name for name, state in checks.items() if state == "unavailable"]
    if any(name in REQUIRED for name in failing):
        status, code = "down", 503
    elif failing:
        status, code = "degraded", 200
    else:
        status, code = "ok", 200
    return JsonResponse({"status": status, "checks": checks, "degraded": failing, "counters": counters()},
                        status=code)
