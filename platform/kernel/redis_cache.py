"""Django's Redis cache with one connection pool per process, failing open when Redis is away.

Django keeps its cache objects per async context (``asgiref.local.Local``), and its Redis client
keeps its connection pool per cache object. Under ASGI every request is a new context, so the stock
backend opened a new TCP connection to Redis for each request (about a tenth of a case submission's
CPU time). This backend shares the pools of a process between all its cache objects; redis-py's
pools are thread-safe and start afresh in a forked child.

The cache only ever makes things faster, so Redis being down must not stop a request (a resident's
report above all). ``FailOpenRedisCache`` catches redis-py's ConnectionError and TimeoutError: a
read is a miss (the default), a write does nothing, ``incr`` counts from zero, ``add`` says "stored".
After one failure the circuit stays open for ``CIRCUIT_SECONDS``: meanwhile no call of this process
tries Redis at all, so a dead Redis costs one failed connect per few seconds per process, not one per
call. Set short socket timeouts (settings: REDIS_CONNECT_TIMEOUT, REDIS_SOCKET_TIMEOUT) so a Redis
that hangs holds a worker no longer than that. Each failure and each skipped call is counted
(``kernel.observability.counters``, shown by /ready/) and logged as a WARNING at most every
``LOG_EVERY`` seconds. Deletes that could not be done are remembered (up to ``MAX_MISSED_DELETES``)
and done when Redis answers again, so a value changed during the outage is not served stale after it.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from kernel.observability import count

log = logging.getLogger(__name__)

_POOLS: dict = {}
_LOCK = threading.Lock()

# What "Redis is away" looks like (refused, reset, unreachable, timed out, still loading its data).
REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)
CIRCUIT_SECONDS = 5.0
LOG_EVERY = 30.0
MAX_MISSED_DELETES = 10_000


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


class Circuit:
    """The state of one Redis server in this process: closed (use it) or open until a moment."""

    def __init__(self, name: str):
        self.name = name
        self.open_until = 0.0
        self.tripped = False
        self.missed_deletes: set[str] = set()
        self._logged_at = -LOG_EVERY
        self._lock = threading.Lock()

    @property
    def is_open(self) -> bool:
        return time.monotonic() < self.open_until

    def call(self, op: str, default, fn: Callable, *args, **kwargs):
        """``fn(*args, **kwargs)``, or ``default`` when Redis is away (counted, logged, circuit opened)."""
        if self.is_open:
            count("redis_cache_skipped_total")
            return default
        try:
            result = fn(*args, **kwargs)
        except REDIS_DOWN as exc:
            self.trip(op, exc)
            return default
        if self.tripped:
            self.recovered()
        return result

    def trip(self, op: str, exc: Exception) -> None:
        failures = count("redis_cache_failures_total")
        now = time.monotonic()
        with self._lock:
            self.open_until = now + CIRCUIT_SECONDS
            self.tripped = True
            due = now - self._logged_at >= LOG_EVERY
            if due:
                self._logged_at = now
        if due:
            log.warning("Redis cache %s unavailable (%s on %s: %s); going on without it for %.0f s "
                        "(failures so far in this process: %d)", self.name, type(exc).__name__, op, exc,
                        CIRCUIT_SECONDS, failures)

    def recovered(self) -> None:
        with self._lock:
            if not self.tripped:
                return
            self.tripped = False
            self.open_until = 0.0
        log.warning("Redis cache %s answers again", self.name)

    def forget_later(self, keys) -> None:
        with self._lock:
            if len(self.missed_deletes) < MAX_MISSED_DELETES:
                self.missed_deletes.update(keys)

    def take_missed_deletes(self) -> list[str]:
        with self._lock:
            keys, self.missed_deletes = list(self.missed_deletes), set()
        return keys


_CIRCUITS: dict[str, Circuit] = {}


def circuit_for(server: str) -> Circuit:
    circuit = _CIRCUITS.get(server)
    if circuit is None:
        with _LOCK:
            circuit = _CIRCUITS.setdefault(server, Circuit(_safe_name(server)))
    return circuit


def _safe_name(url: str) -> str:
    """The server's address without its password, for log lines."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}{rest.rpartition('@')[2]}" if sep else url


def fail_open(cache, op: str, default, fn: Callable, *args, **kwargs):
    """Run a direct Redis call of ``cache`` (e.g. a throttle's pipeline) under its circuit; with any
    other cache (or none), just run it."""
    circuit = getattr(cache, "circuit", None)
    if circuit is None:
        return fn(*args, **kwargs)
    return circuit.call(op, default, fn, *args, **kwargs)


class FailOpenRedisCache(SharedPoolRedisCache):
    """The shared-pool Redis cache that goes on without Redis (see the module's docstring)."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self.circuit = circuit_for(self._servers[0])

    def _call(self, op: str, default, fn: Callable, *args, **kwargs):
        result = self.circuit.call(op, _FAILED, fn, *args, **kwargs)
        if result is _FAILED:
            return default
        if self.circuit.missed_deletes:
            missed = self.circuit.take_missed_deletes()
            if self.circuit.call("delete_many", _FAILED, self._cache.delete_many, missed) is _FAILED:
                self.circuit.forget_later(missed)
        return result

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("add", True, super().add, key, value, timeout, version)

    def get(self, key, default=None, version=None):
        return self._call("get", default, super().get, key, default, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        self._call("set", None, super().set, key, value, timeout, version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("touch", False, super().touch, key, timeout, version)

    def delete(self, key, version=None):
        full_key = self.make_and_validate_key(key, version=version)
        deleted = self._call("delete", _FAILED, self._cache.delete, full_key)
        if deleted is _FAILED:
            self.circuit.forget_later([full_key])
            return False
        return deleted

    def get_many(self, keys, version=None):
        return self._call("get_many", {}, super().get_many, keys, version)

    def has_key(self, key, version=None):
        return self._call("has_key", False, super().has_key, key, version)

    def incr(self, key, delta=1, version=None):
        # Without Redis every count starts again from nothing: a throttle lets the caller through.
        return self._call("incr", delta, super().incr, key, delta, version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("set_many", list(data), super().set_many, data, timeout, version)

    def delete_many(self, keys, version=None):
        keys = list(keys)
        full_keys = [self.make_and_validate_key(key, version=version) for key in keys]
        if full_keys and self._call("delete_many", _FAILED, self._cache.delete_many, full_keys) is _FAILED:
            self.circuit.forget_later(full_keys)

    def clear(self):
        return self._call("clear", False, super().clear)

    def ping(self) -> bool:
        """Ask Redis directly (circuit or not); a yes closes the circuit. For readiness."""
        try:
            self._cache.get_client(write=True).ping()
        except REDIS_DOWN as exc:
            self.circuit.trip("ping", exc)
            return False
        self.circuit.recovered()
        return True


_FAILED = object()
