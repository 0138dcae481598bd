"""API plumbing shared by every endpoint: one error shape, pagination, throttles."""
from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from rest_framework import exceptions, parsers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

from kernel.errors import DomainError
from kernel.redis_cache import fail_open

log = logging.getLogger(__name__)


def too_large_messages() -> tuple[str, str]:
    """What a body over DATA_UPLOAD_MAX_MEMORY_SIZE is told (zh-Hans, English): the API's handler
    below and kernel.middleware.BadInputMiddleware (form bodies, pages too)."""
    mb = settings.DATA_UPLOAD_MAX_MEMORY_SIZE / 2**20
    return (f"提交的内容太大：文字字段合计最多 {mb:g} MB（文件另计）。",
            f"The request is too large: at most {mb:g} MB of fields (files are counted apart).")


class FirstPagePaginator(Paginator):
    """Page 1 shorter than a page needs no ``COUNT(*)``: its length is the count. Most lists a caller
    opens (their cases, the notices, the categories) fit on one page, so the count statement and its
    compilation go; a longer list is counted as before."""

    def page(self, number):
        if str(number) != "1" or "count" in self.__dict__:
            return super().page(number)
        rows = list(self.object_list[: self.per_page])
        if len(rows) < self.per_page:
            self.__dict__["count"] = len(rows)  # the cached_property's slot
        return self._get_page(rows, 1, self)


class Pagination(PageNumberPagination):
    """Page numbers, strictly: ``page`` and ``page_size`` are whole numbers from 1 (``page_size`` up to
    ``max_page_size``), else 400 naming the parameter; an empty value counts as not given. ``page=last``
    is the last page; a page past the end is 404."""

    django_paginator_class = FirstPagePaginator
    page_size_query_param = "page_size"
    max_page_size = 200

    def _whole_number(self, request, name: str, maximum: int | None = None) -> int | None:
        raw = request.query_params.get(name)
        if raw is None or raw == "":
            return None
        try:
            value = int(raw) if raw.strip().isascii() and raw.strip().lstrip("+").isdigit() else 0
        except ValueError:
            value = 0
        if value < 1 or (maximum is not None and value > maximum):
            message = (_("A whole number from 1 to %(max)d.") % {"max": maximum} if maximum is not None
                       else _("A whole number from 1."))
            raise exceptions.ValidationError({name: [message]})
        return value

    def get_page_size(self, request):
        return self._whole_number(request, self.page_size_query_param, self.max_page_size) or self.page_size

    def get_page_number(self, request, paginator):
        if request.query_params.get(self.page_query_param) in self.last_page_strings:
            return paginator.num_pages
        return self._whole_number(request, self.page_query_param) or 1

    def get_schema_operation_parameters(self, view):
        params = super().get_schema_operation_parameters(view)
        for param in params:
            if param["name"] == self.page_size_query_param:
                param["schema"].update(minimum=1, maximum=self.max_page_size)
            elif param["name"] == self.page_query_param:
                param["schema"].update(minimum=1)
        return params


class CountingThrottle:
    """A counter per caller and time window, in place of DRF's list of request times.

    DRF's ``SimpleRateThrottle`` reads and writes the whole list of a caller's request times on every
    request (up to ``num_requests`` floats: 2,000 for a signed-in user, 600 for an integration), so a
    busy caller costs the most exactly when load is highest. Here a request is one ``INCR`` with its
    expiry in one Redis round trip (``add`` + ``incr`` on other caches). The window is fixed (a burst
    may reach twice the rate across a window's edge), and ``wait()`` (Retry-After) is the rest of the
    window. Mixed in before a DRF throttle class, which still picks the rate and the cache key."""

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        window = int(self.now // self.duration)
        self.window_end = (window + 1) * self.duration
        key, ttl = f"{self.key}:{window}", int(self.duration) + 1
        cache = _real_cache(self.cache)
        client = _redis_client(cache, key)
        if client is not None:
            # With Redis away the throttle lets the caller through (counted and logged by the cache's
            # circuit): a report must not fail because its rate could not be counted.
            full_key = cache.make_and_validate_key(key)
            count = fail_open(cache, "throttle", 0, _count_script(client), keys=[full_key], args=[ttl],
                              client=client)
        else:
            self.cache.add(key, 0, ttl)
            try:
                count = self.cache.incr(key)
            except ValueError:  # expired between add and incr
                self.cache.set(key, 1, ttl)
                count = 1
        return count <= self.num_requests

    def wait(self):
        return max(self.window_end - self.now, 0)


# INCR, and the expiry when the counter is new: one command, one round trip.
COUNT_LUA = "local n = redis.call('INCR', KEYS[1]) if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end return n"
_scripts: dict = {}


def _count_script(client):
    script = _scripts.get("count")
    if script is None:
        script = _scripts["count"] = client.register_script(COUNT_LUA)  # EVALSHA, loaded on first use
    return script


def _real_cache(cache):
    """The cache object behind ``django.core.cache.cache`` (a proxy: ``isinstance`` sees only the proxy,
    so the Redis path above was never taken and every count cost an ``add`` and an ``incr``)."""
    connections = cache.__dict__.get("_connections")
    return connections[cache.__dict__["_alias"]] if connections is not None else cache


def _redis_client(cache, key: str):
    from django.core.cache.backends.redis import RedisCache

    if isinstance(cache, RedisCache):
        return cache._cache.get_client(key, write=True)
    return None


class AnonThrottle(CountingThrottle, AnonRateThrottle):
    """Throttles anonymous callers. The cache key function adds the district, so limits are per district."""


class UserThrottle(CountingThrottle, UserRateThrottle):
    """Signed-in callers. An anonymous caller is counted once, by ``AnonThrottle`` at the lower anonymous
    rate: DRF's user throttle would count it a second time, by address, at the user rate (a Redis round
    trip that could never refuse anybody ``AnonThrottle`` lets through)."""

    def get_cache_key(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return None
        return super().get_cache_key(request, view)


def _flatten(detail, prefix: str = "") -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            out.update(_flatten(value, name))
    elif isinstance(detail, list):
        if all(not isinstance(v, dict | list) for v in detail):
            out[prefix or "non_field_errors"] = [str(v) for v in detail]
        else:
            for i, value in enumerate(detail):
                out.update(_flatten(value, f"{prefix}[{i}]" if prefix else str(i)))
    else:
        out[prefix or "non_field_errors"] = [str(detail)]
    return out


def error_body(status_code: int, code: str, message: str, fields: dict | None = None) -> dict:
    body = {"error": {"status": status_code, "code": code, "message": message}}
    if fields:
        body["error"]["fields"] = fields
    return body


MAX_JSON_DEPTH = 64  # arrays and objects inside one another; no document of this API comes near


def _json_depth(value) -> int:
    depth, level = 0, [value]
    while level:
        depth += 1
        if depth > MAX_JSON_DEPTH:
            return depth
        level = [child for node in level if isinstance(node, dict | list)
                 for child in (node.values() if isinstance(node, dict) else node)
                 if isinstance(child, dict | list)]
    return depth - 1 if depth else 0


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, with a limit on nesting: a body nested 100,000 deep was a RecursionError (500)."""

    def parse(self, stream, media_type=None, parser_context=None):
        too_deep = exceptions.ParseError(
            f"JSON parse error - nested too deeply: at most {MAX_JSON_DEPTH} levels of arrays and objects.")
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise too_deep from None
        if isinstance(data, dict | list) and _json_depth(data) > MAX_JSON_DEPTH:
            raise too_deep
        return data


def exception_handler(exc, context):
    """Every 4xx/5xx of the API has the shape {"error": {"status", "code", "message", "fields"?}}."""
    from rest_framework.views import exception_handler as drf_exception_handler  # not at import: DRF settings

    if isinstance(exc, DomainError):
        return Response(error_body(exc.status, exc.code, exc.message, exc.fields), status=exc.status)
    if isinstance(exc, RequestDataTooBig):  # a JSON body (forms: kernel.middleware.BadInputMiddleware)
        message = too_large_messages()[0 if (get_language() or "").startswith("zh") else 1]
        return Response(error_body(413, "too_large", message), status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        return Response(error_body(400, "too_many_fields", str(exc)), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DjangoValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(fields)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        log.exception("unhandled API error", exc_info=exc)
        return Response(error_body(500, "server_error", "Something went wrong on our side. It has been logged."),
                        status=status.HTTP_500_INTERNAL_SERVER_ERROR)
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        first_field, first_msgs = next(iter(fields.items()))
        message = first_msgs[0] if first_field == "non_field_errors" else f"{first_field}: {first_msgs[0]}"
        response.data = error_body(response.status_code, "invalid", message, fields)
    else:
        detail = getattr(exc, "detail", str(exc))
        code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
        response.data = error_body(response.status_code, str(code), str(detail))
    return response
