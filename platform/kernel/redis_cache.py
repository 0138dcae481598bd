"""Django's Redis cache with one connection pool per process.

Django keeps its cache objects per async context (``asgiref.local.Local``), and its Redis client
keeps its connection pool per cache object. Under ASGI every request is a new context, so the stock
backend opened a new TCP connection to Redis for each request (about a tenth of a case submission's
CPU time). This backend shares the pools of a process between all its cache objects; redis-py's
pools are thread-safe and start afresh in a forked child."""
from __future__ import annotations

import threading

from django.core.cache.backends.redis import RedisCache, RedisCacheClient

_POOLS: dict = {}
_LOCK = threading.Lock()


class SharedPoolRedisCacheClient(RedisCacheClient):
    def _get_connection_pool(self, write):
        index = self._get_connection_pool_index(write)
        key = (self._servers[index], repr(sorted(self._pool_options.items(), key=lambda kv: kv[0])))
        pool = _POOLS.get(key)
        if pool is None:
            with _LOCK:
                pool = _POOLS.get(key)
                if pool is None:
                    pool = _POOLS[key] = self._pool_class.from_url(self._servers[index], **self._pool_options)
        return pool


class SharedPoolRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = SharedPoolRedisCacheClient
