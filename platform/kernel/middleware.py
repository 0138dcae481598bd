from __future__ import annotations

import uuid

from django.conf import settings
from django.middleware.locale import LocaleMiddleware
from django.utils import translation

from kernel.context import request_id


class HealthMiddleware:
    """Liveness: /health/ answers on any host without touching the database (probes, load balancers)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path == "/health/":
            from django.http import JsonResponse

            return JsonResponse({"status": "ok"})
        return self.get_response(request)


class RequestContextMiddleware:
    """Gives each request an id (from X-Request-ID or new) used in logs and audit entries."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        rid = (request.headers.get("X-Request-ID") or uuid.uuid4().hex)[:64]
        token = request_id.set(rid)
        try:
            response = self.get_response(request)
        finally:
            request_id.reset(token)
        response["X-Request-ID"] = rid
        return response


class PortalLocaleMiddleware(LocaleMiddleware):
    """zh-Hans first: pages are Chinese unless the visitor chose English with the switch (cookie).
    The API follows Accept-Language, as API clients ask explicitly."""

    def process_request(self, request):
        if request.path.startswith("/api/") or settings.LANGUAGE_COOKIE_NAME in request.COOKIES:
            return super().process_request(request)
        translation.activate(settings.LANGUAGE_CODE)
        request.LANGUAGE_CODE = translation.get_language()
        return None
