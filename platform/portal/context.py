"""Template context: the district, its branding and the navigation built from its modules."""
from __future__ import annotations

from django.db import connection
from django.urls import NoReverseMatch, reverse
from django.utils import translation

from kernel.roles import STAFF_ROLES
from kernel.selectors import role_names
from modules.catalog import catalog


def navigation(district, user, language: str) -> tuple[list[dict], list[dict]]:
    """The resident's and the staff's menus of the enabled modules (the home and "我的" show them as
    tiles; ``tab`` entries are also tabs of the bottom tab bar)."""
    english = language.startswith("en")
    roles = role_names(user)
    resident, staff = [], []
    for spec in catalog.effective(district):
        for entry in spec.nav:
            if entry.roles and not roles & set(entry.roles):
                continue
            try:
                url = reverse(entry.url_name)
            except NoReverseMatch:
                continue
            item = {"label": entry.label_en if english else entry.label_zh, "url": url, "icon": entry.icon,
                    "module": spec.key, "tab": entry.tab}
            (staff if entry.staff else resident).append(item)
    return resident, staff


def tabs(nav: list[dict], path: str, english: bool) -> list[dict]:
    """The bottom tab bar's first tabs: 首页, then the enabled modules' main actions (随手拍). The
    template adds 消息 (where the inbox is) and 我的."""
    found = [{"key": "home", "label": "Home" if english else "首页", "icon": "🏠", "url": "/", "on": path == "/"}]
    for item in nav:
        if item["tab"]:
            found.append({"key": item["module"], "label": item["label"], "icon": item["icon"], "url": item["url"],
                          "on": path.startswith(item["url"])})
    return found


def district(request):
    tenant = getattr(request, "tenant", None) or getattr(connection, "tenant", None)
    language = translation.get_language() or "zh-hans"
    ctx = {"district": tenant, "english": language.startswith("en"), "language": language}
    if tenant is None or getattr(tenant, "is_public", True):
        return ctx
    user = getattr(request, "user", None)
    nav, staff_nav = navigation(tenant, user, language)
    roles = role_names(user) if user is not None else set()
    path = getattr(request, "path", "/")
    ctx.update(
        portal_title=tenant.portal_title(language),
        nav=nav,
        tabs=tabs(nav, path, ctx["english"]),
        me_tab_on=path.startswith("/me/") or path.startswith("/login/"),
        staff_nav=staff_nav,
        is_staff_member=bool(roles & set(STAFF_ROLES)),
        is_district_admin="district_admin" in roles,
    )
    return ctx
