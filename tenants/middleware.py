"""Selects the district from the host; refuses unknown hosts and districts that are not serving."""
from __future__ import annotations

from django.db import connection
from django.http import HttpResponse, JsonResponse
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


def error_response(request, status: int, code: str, title_zh: str, title_en: str,
                   detail_zh: str = "", detail_en: str = "", district=None) -> HttpResponse:
    english = (request.GET.get("lang") or translation.get_language_from_request(request) or "").startswith("en")
    title = title_en if english else title_zh
    detail = detail_en if english else detail_zh
    if wants_json(request):
        return JsonResponse({"error": {"status": status, "code": code, "message": f"{title}. {detail}".strip(" ."),
                                       "message_zh": title_zh}}, status=status)
    html = render_to_string("errors/plain.html", {
        "status": status, "title": title, "detail": detail, "title_zh": title_zh, "title_en": title_en,
        "district": district, "english": english,
    })
    return HttpResponse(html, status=status)


class DistrictMiddleware(TenantMainMiddleware):
    def no_tenant_found(self, request, hostname):
        connection.set_schema_to_public()
        return error_response(
            request, 404, "unknown_host", "找不到该区县", "No district at this address",
            f"地址 {hostname} 没有对应的区县站点，请检查网址。",
            f"There is no district site at {hostname}. Check the address.",
        )

    def process_request(self, request):
        response = super().process_request(request)
        if response is not None:
            return response
        district = request.tenant
        if district.is_public or district.is_serving:
            return None
        status, title_zh, title_en, detail_zh, detail_en = STATUS_PAGES.get(district.status, STATUS_PAGES["spare"])
        connection.set_schema_to_public()  # nothing of the district is read while it is not serving
        return error_response(request, status, f"district_{district.status}", title_zh, title_en,
                              detail_zh, detail_en, district=district if status != 404 else None)
