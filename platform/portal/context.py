"""Template context: the district, its branding and the navigation built from its modules."""
from __future__ import annotations

from django.db import connection
from django.urls import NoReverseMatch, reverse
from django.utils import translation

from kernel.roles import STAFF_ROLES
from kernel.selectors import role_names
from modules.catalog import catalog


def navigation(district, user, language: str) -> tuple[list[dict], list[dict]]:
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
                    "module": spec.key}
            (staff if entry.staff else resident).append(item)
    return resident, staff


def district(request):
    tenant = getattr(request, "tenant", None) or getattr(connection, "tenant", None)
    language = translation.get_language() or "zh-hans"
    ctx = {"district": tenant, "english": language.startswith("en"), "language": language}
    if tenant is None or getattr(tenant, "is_public", True):
        return ctx
    user = getattr(request, "user", None)
    nav, staff_nav = navigation(tenant, user, language)
    roles = role_names(user) if user is not None else set()
    ctx.update(
        portal_title=tenant.portal_title(language),
        nav=nav,
        staff_nav=staff_nav,
        is_staff_member=bool(roles & set(STAFF_ROLES)),
        is_district_admin="district_admin" in roles,
    )
    return ctx
