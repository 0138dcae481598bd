"""The staff side navigation: the staff entries of the district's modules (already filtered by the
user's roles in ``portal.context.navigation``), grouped by module, and the settings for admins."""
from __future__ import annotations

from django import template
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from modules.catalog import catalog

register = template.Library()

SETTINGS = (  # (url, label, icon, tab) of the district administrator's settings pages
    ("/manage/", gettext_lazy("Modules"), "🧩", "modules"),
    ("/manage/config/", gettext_lazy("Rules & configuration"), "🛠", "config"),
    ("/manage/branding/", gettext_lazy("Branding"), "🎨", "branding"),
    ("/manage/users/", gettext_lazy("Users & roles"), "👥", "users"),
    ("/manage/audit/", gettext_lazy("Audit log"), "📜", "audit"),
    ("/admin/", gettext_lazy("Data back office"), "🗄", "admin"),  # Django's admin of this district
)


def _mark_active(sections: list[dict], path: str) -> None:
    """The one entry whose URL is the longest prefix of the page's path is the current one."""
    items = [i for s in sections for i in s["items"] if path == i["url"] or (path.startswith(i["url"]) and i["url"] != "/")]
    if items:
        max(items, key=lambda i: len(i["url"]))["on"] = True


@register.simple_tag(takes_context=True)
def staff_sections(context) -> list[dict]:
    """[{"key", "title", "items": [{"url", "label", "icon", "on"}]}] in catalog order."""
    request = context.get("request")
    path = getattr(request, "path", "")
    english = bool(context.get("english"))
    sections: list[dict] = []
    for item in context.get("staff_nav") or ():
        if not sections or sections[-1]["key"] != item["module"]:
            spec = catalog.get(item["module"])
            title = (spec.name_en if english else spec.name_zh) if spec else item["module"]
            sections.append({"key": item["module"], "title": title, "items": []})
        sections[-1]["items"].append({**item, "on": False})
    if context.get("is_district_admin"):
        sections.append({"key": "settings", "title": _("District settings"), "items": [
            {"url": url, "label": label, "icon": icon, "module": "settings", "on": False}
            for url, label, icon, _tab in SETTINGS]})
    _mark_active(sections, path)
    return sections
