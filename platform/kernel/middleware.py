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


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class BadInputMiddleware:
    """Form bodies are checked once, here, for the API and the pages alike: fields over
    DATA_UPLOAD_MAX_MEMORY_SIZE get 413, too many fields or a broken multipart body 400, and a field
    whose name or value is not valid UTF-8 400 naming the field (Django would store it mangled, as
    U+FFFD or Latin-1, where the same bytes in JSON are refused). The API answers in the one error
    shape, pages with the district's error page. Parsing here, before CSRF, is what CSRF does anyway;
    DRF then reads Django's parsed form (it does so whenever request.POST was read first)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method in ("POST", "PUT", "PATCH", "DELETE") and request.content_type in FORM_TYPES:
            refused = self._check(request)
            if refused is not None:
                return refused
        return self.get_response(request)

    def _check(self, request):
        from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
        from django.http.multipartparser import MultiPartParserError

        from kernel import text

        try:
            if request.content_type == FORM_TYPES[0]:
                body = request.body
                request.POST  # noqa: B018  (parse now: too many fields raise here)
                bad = text.undecodable_form_fields(body, request.encoding or settings.DEFAULT_CHARSET)
            else:
                bad = text.replacement_fields(request.POST, request.FILES)
        except RequestDataTooBig:
            from kernel.api import too_large_messages

            return self._refuse(request, 413, "too_large", *too_large_messages())
        except (TooManyFieldsSent, TooManyFilesSent):
            return self._refuse(request, 400, "too_many_fields", "表单字段过多。",
                                "The form has too many fields.")
        except MultiPartParserError as exc:
            return self._refuse(request, 400, "parse_error", "表单数据格式有误。",
                                f"The multipart form is malformed: {exc}")
        if bad:
            names = ", ".join(bad)
            return self._refuse(request, 400, "invalid", f"以下字段含有无效的文字编码（须为 UTF-8）：{names}。",
                                f"{bad[0]}: this text is not valid UTF-8: send it as UTF-8 text.",
                                fields=(bad, "不是有效的 UTF-8 文字。", "Not valid UTF-8 text."))
        return None

    def _refuse(self, request, status: int, code: str, message_zh: str, message_en: str, fields=None):
        from django.http import JsonResponse

        from kernel.api import error_body

        if request.path.startswith("/api/"):
            english = not (translation.get_language() or "").startswith("zh")
            detail = {name: [fields[2] if english else fields[1]] for name in fields[0]} if fields else None
            return JsonResponse(error_body(status, code, message_en if english else message_zh, detail),
                                status=status)
        from tenants.middleware import error_response

        district = getattr(request, "tenant", None)
        if district is not None and getattr(district, "is_public", False):
            district = None
        titles = {413: ("提交的内容太大", "What you sent is too large")}
        title_zh, title_en = titles.get(status, ("请求有误", "Bad request"))
        return error_response(request, status, code, title_zh, title_en, message_zh, message_en, district=district)
