"""Two-level cache of per-district reference data (module configuration, routing tables).

A read looks in this process's memory first (at most LOCAL_CACHE_SECONDS old), then in the shared cache
(Redis; keys carry the district through django-tenants' key function), then builds. ``forget`` drops
both levels in this process and the shared entry, now and again when the writer's transaction
commits, so no reader can put back what it read before the commit. Other processes see a change
within LOCAL_CACHE_SECONDS (setting, 5 s by default: as the district host cache, TENANT_CACHE_SECONDS).
At 1 s, a web process serving ten districts went back to Redis (and unpickled a routing table or a
notice list) for nearly every other request (bench/load.py)."""
from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction

_local: dict[tuple[str, str], tuple[float, object]] = {}


def cached(key: str, build: Callable[[], object], *, seconds: int, valid: Callable[[object], bool] | None = None):
    """The value under ``key`` for the current district; ``valid`` may reject a stored value (rebuilt)."""
    local_key = (connection.schema_name, key)
    now = time.monotonic()
    hit = _local.get(local_key)
    if hit is not None and hit[0] > now and (valid is None or valid(hit[1])):
        return hit[1]
    value = cache.get(key)
    if value is None or (valid is not None and not valid(value)):
        value = build()
        cache.set(key, value, seconds)
    _local[local_key] = (now + settings.LOCAL_CACHE_SECONDS, value)
    return value


def forget(key: str) -> None:
    def drop():
        _local.pop((connection.schema_name, key), None)
        cache.delete(key)

    drop()
    transaction.on_commit(drop)


def kept_list(key: str, request, answer: Callable, *, seconds: int):
    """A list view's answer that is the same for every caller of a district (``answer()``: the view's
    own ``list``), kept under ``key`` for ``seconds`` when asked without query parameters and when it
    fits on one page (so no host-specific page links are kept). The writer of what it lists calls
    ``forget(key)`` (e.g. from post_save / post_delete)."""
    from rest_framework.response import Response

    if request.query_params:
        return answer()
    built = []

    def build():
        built.append(answer())
        data = built[0].data
        return dict(data) if data.get("next") is None and data.get("previous") is None else False

    data = cached(key, build, seconds=seconds)
    if built:
        return built[0]
    return answer() if data is False else Response(data)
