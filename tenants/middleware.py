"""Selects the district from the host; refuses unknown hosts and districts that are not serving."""
from __future__ import annotations

import time

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.db import connection
from django.db.models.signals import post_delete, post_save
from django.http import HttpResponse, HttpResponseNotFound, JsonResponse
from django.template.loader import render_to_string
from django.utils import translation
from django_tenants.middleware.main import TenantMainMiddleware

# What a visitor sees for a district that is not serving: HTTP status and page text.
STATUS_PAGES = {
    "suspended": (403, "此区县的服务已暂停", "This district's service is suspended",
                  "请联系区县管理员或平台运营方。", "Please contact the district administrator or the platform operator."),
    "archived": (410, "此区县的服务已停止", "This district's service has ended",
                 "该站点已归档，数据由区县保存。", "This site has been archived; the district keeps its data."),
    "provisioning": (503, "此区县正在开通中", "This district is being set up",
                     "请稍后再试。", "Please try again in a few minutes."),
    "spare": (404, "找不到该区县", "No district here", "", ""),
}


def wants_json(request) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", "")


def _english(request) -> bool:
    """API callers ask with Accept-Language; pages are Chinese unless the visitor chose English with
    the language switch (its cookie), as every portal page (kernel.middleware.PortalLocaleMiddleware)."""
    if request.GET.get("lang"):
        return request.GET["lang"].startswith("en")
    if wants_json(request):
        return (translation.get_language_from_request(request) or "").startswith("en")
    return (request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) or "").startswith("en")


def error_response(request, status: int, code: str, title_zh: str, title_en: str,
                   detail_zh: str = "", detail_en: str = "", district=None) -> HttpResponse:
    """An error as JSON for API callers, else a page in the district's colours and logo (``district``:
    the one to brand it with; by default the request's, where it serves), in one language (Chinese
    unless the visitor chose English), with a way back to the district's home when it serves."""
    english = _english(request)
    title = title_en if english else title_zh
    detail = detail_en if english else detail_zh
    if wants_json(request):
        return JsonResponse({"error": {"status": status, "code": code, "message": f"{title}. {detail}".strip(" ."),
                                       "message_zh": title_zh}}, status=status)
    if district is None:
        tenant = getattr(request, "tenant", None)
        if tenant is not None and not tenant.is_public and tenant.is_serving:
            district = tenant
    html = render_to_string("errors/plain.html", {
        "status": status, "code": code, "title": title, "detail": detail, "district": district, "english": english,
        "language": "en" if english else "zh-hans",
        "portal_title": district.portal_title("en" if english else "zh-hans") if district is not None else "",
        "home": district is not None and district.is_serving,
    })
    return HttpResponse(html, status=status)


# host -> (District, expires). Per process; cleared in this process whenever a District or Domain is
# saved or deleted, and expires after TENANT_CACHE_SECONDS everywhere else (so a suspension reaches
# every web process within that time). Saves the Domain+District query on almost every request.
_hosts: dict[str, tuple[object, float]] = {}


def forget_hosts(**kwargs) -> None:
    _hosts.clear()


def _connect_signals() -> None:
    from tenants.models import District, Domain

    for model in (District, Domain):
        post_save.connect(forget_hosts, sender=model, dispatch_uid=f"forget-hosts-save-{model.__name__}")
        post_delete.connect(forget_hosts, sender=model, dispatch_uid=f"forget-hosts-delete-{model.__name__}")


class DistrictMiddleware(TenantMainMiddleware):
    def __init__(self, get_response=None):
        super().__init__(get_response)
        _connect_signals()

    def lookup(self, hostname: str):
        ttl = getattr(settings, "TENANT_CACHE_SECONDS", 5)
        now = time.monotonic()
        hit = _hosts.get(hostname)
        if hit is not None and hit[1] > now:
            return hit[0]
        connection.set_schema_to_public()
        domain_model = self.get_domain_model()
        try:
            district = self.get_tenant(domain_model, hostname)
        except domain_model.DoesNotExist:
            return None
        if ttl > 0:
            _hosts[hostname] = (district, now + ttl)
        return district

    @staticmethod
    def get_domain_model():
        from django_tenants.utils import get_tenant_domain_model

        return get_tenant_domain_model()

    def process_request(self, request):
        try:
            hostname = self.hostname_from_request(request)
        except DisallowedHost:
            return HttpResponseNotFound()
        district = self.lookup(hostname)
        if district is None:
            return self.no_tenant_found(request, hostname)
        request.tenant = district
        if not (district.is_public or district.is_serving):
            connection.set_schema_to_public()  # nothing of the district is read while it is not serving
            status, title_zh, title_en, detail_zh, detail_en = STATUS_PAGES.get(district.status, STATUS_PAGES["spare"])
            return error_response(request, status, f"district_{district.status}", title_zh, title_en,
                                  detail_zh, detail_en, district=district if status != 404 else None)
        if connection.tenant is not district or connection.schema_name != district.schema_name:
            connection.set_tenant(district)  # unchanged tenant: keep the search_path already set
        self.setup_url_routing(request)
        return None

    def no_tenant_found(self, request, hostname):
        connection.set_schema_to_public()
        if request.path == "/ready/":  # readiness probes may use any host: answer as the platform
            self.setup_url_routing(request, force_public=True)
            return None
        return error_response(
            request, 404, "unknown_host", "找不到该区县", "No district at this address",
            f"地址 {hostname} 没有对应的区县站点，请检查网址。",
            f"There is no district site at {hostname}. Check the address.",
        )
