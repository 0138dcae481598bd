"""Selects the district from the host; refuses unknown hosts; and lets each state of a district's life
answer what it should (docs/district-lifecycle.md):

- **active, live**: everything (nothing more is done per request than the cached host lookup).
- **active or past due, not live yet** (``live_at`` is None): residents see "being set up" on the
  portal pages; the district's staff and administrator sign in and work normally; the API answers.
- **past due**: everything works (the district administrator sees a banner on staff pages).
- **suspended**: residents see a notice (data kept); hotline/mailbox intake (``/api/v1/cases/intake/``)
  and its status lookup keep working so no report is lost; district administrators sign in, read, and
  use /manage/billing/; everything else 403 with the notice.
- **archived**: read-only: the district's staff sign in and read (GET/HEAD); every write except sign-in
  and sign-out is refused (403, one error shape); residents see the archived page.
- **provisioning / spare**: nothing of the district is read (a page saying so).

The role-dependent part runs in ``process_view`` (after the session and the user are known), and only
for a district that is not simply live and active: a live district pays one attribute check."""
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

from kernel.roles import STAFF_ROLES

# What a visitor sees for a district that is not serving: HTTP status and page text.
STATUS_PAGES = {
    "suspended": (403, "此区县的服务已暂停", "This district's service is suspended",
                  "您的数据完好保存，服务恢复后即可继续使用。如需反映问题，请拨打政务服务热线。",
                  "Your data is kept and will be here when the service resumes. To report a problem, call "
                  "the service hotline."),
    "archived": (410, "此区县的服务已停止", "This district's service has ended",
                 "该站点已归档，数据由区县保存。", "This site has been archived; the district keeps its data."),
    "archived_read_only": (403, "此区县已归档，只读", "This district is archived: read-only",
                           "归档后的数据只能查看，不能修改。", "Its data can be read but no longer changed."),
    "setting_up": (200, "正在开通建设中", "This service is being set up",
                   "本区的服务正在开通建设中，敬请期待。", "This district's service is being set up. Please come back soon."),
    "provisioning": (503, "此区县正在开通中", "This district is being set up",
                     "请稍后再试。", "Please try again in a few minutes."),
    "spare": (404, "找不到该区县", "No district here", "", ""),
}


# States whose requests are let in and then looked at one by one (process_view).
GATED = ("suspended", "archived")
SAFE = ("GET", "HEAD", "OPTIONS")
# Open in every state: signing in and out, the invitation, the language switch, icons, files, probes.
ALWAYS_OPEN = ("/login/", "/logout/", "/invite/", "/i18n/", "/favicon.", "/apple-touch-icon.png", "/static/",
               "/media/", "/ready/", "/health/")
# Writes that are signing in or out (allowed while suspended or archived).
SIGN_IN_OUT = ("/login/", "/logout/", "/invite/", "/admin/login/", "/admin/logout/", "/api/v1/auth/token/",
               "/api/v1/auth/logout/")
# Suspended: reports through the hotline / mailbox integrations are still accepted (and looked up).
SUSPENDED_OPEN = ("/api/v1/cases/intake/",)
ADMIN_BILLING = "/manage/billing/"
ADMIN_SITE = "/admin/"  # Django's back office checks is_staff itself
STAFF_ROLE_NAMES = tuple(role.value for role in STAFF_ROLES)


def _has_role(request, *roles: str) -> bool:
    """The signed-in (session) user holds one of ``roles`` in this district."""
    from kernel.selectors import role_names

    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and role_names(user) & set(roles))


def setting_up_page(request, district) -> HttpResponse:
    """What residents see before the district goes live: its name, colours and logo, "being set up"."""
    english = _english(request)
    html = render_to_string("portal/setting_up.html", {
        "district": district, "english": english, "language": "en" if english else "zh-hans",
        "portal_title": district.portal_title("en" if english else "zh-hans"),
    }, request=None)
    # 200, not 503: it is the district's page for now (a 5xx would be logged as a server error on every
    # visit); not indexed, not cached.
    response = HttpResponse(html)
    response["Cache-Control"] = "no-store"
    return response


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
        if not (district.is_public or district.is_serving or district.status in GATED):
            connection.set_schema_to_public()  # nothing of the district is read while it is not serving
            return self.notice(request, district)
        if connection.tenant is not district or connection.schema_name != district.schema_name:
            connection.set_tenant(district)  # unchanged tenant: keep the search_path already set
        self.setup_url_routing(request)
        return None

    # --- the states in between: decided per request once the user is known ------------------------

    @staticmethod
    def gated(district) -> bool:
        """Whether requests to ``district`` are looked at one by one (not live yet, suspended, archived)."""
        return district.status in GATED or (district.live_at is None and district.is_serving and not district.is_public)

    @staticmethod
    def notice(request, district, key: str | None = None, status: int | None = None, code: str | None = None):
        key = key or district.status
        default, title_zh, title_en, detail_zh, detail_en = STATUS_PAGES.get(key, STATUS_PAGES["spare"])
        status = status or default
        if key == "setting_up" and not wants_json(request):
            return setting_up_page(request, district)
        return error_response(request, status, code or f"district_{key}", title_zh, title_en, detail_zh, detail_en,
                              district=district if status != 404 else None)

    def process_view(self, request, view_func, view_args, view_kwargs):
        district = getattr(request, "tenant", None)
        if district is None or not self.gated(district):
            return None
        request._district_gate_done = True
        return self.gate(request, district)

    def process_response(self, request, response):
        # A path no view answers (404) in a gated district: the same notice as its pages.
        district = getattr(request, "tenant", None)
        if (response.status_code == 404 and district is not None and self.gated(district)
                and not getattr(request, "_district_gate_done", False)):
            return self.gate(request, district) or response
        return response

    def gate(self, request, district):
        """None to let the request through, else the notice that answers it."""
        path = request.path
        if path.startswith(ALWAYS_OPEN):
            return None
        status = district.status
        if status == "suspended":
            if path.startswith(SUSPENDED_OPEN) or path.startswith(SIGN_IN_OUT):
                return None
            if _has_role(request, "district_admin") and (request.method in SAFE or path.startswith(ADMIN_BILLING)):
                return None
            return self.notice(request, district)
        if status == "archived":
            if request.method not in SAFE:
                if path.startswith(SIGN_IN_OUT):
                    return None
                return self.notice(request, district, "archived_read_only")
            if wants_json(request) or _has_role(request, *STAFF_ROLE_NAMES):
                return None  # reads: the API checks who asks; the staff read their pages
            return self.notice(request, district)
        # active or past due, not live yet: the staff work; residents see "being set up" on the pages.
        if wants_json(request) or path.startswith(ADMIN_SITE) or _has_role(request, *STAFF_ROLE_NAMES):
            return None
        return self.notice(request, district, "setting_up")

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
