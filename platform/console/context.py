"""The console's navigation, by the signed-in user's platform roles (tenants.access)."""
from __future__ import annotations

from django.utils.translation import gettext as _

from tenants.access import FINANCE, OPS, VENDOR, platform_roles

# (path, label, roles that see it)
NAV = (
    ("/console/", "Districts", (OPS, FINANCE, VENDOR)),
    ("/console/applications/", "Applications", (OPS, VENDOR)),
    ("/billing/", "Billing", (OPS, FINANCE, VENDOR)),
    ("/console/releases/", "Releases", (OPS,)),
    ("/console/lifecycle/", "Archive and export", (OPS,)),
)


def console_nav(request) -> dict:
    tenant = getattr(request, "tenant", None)
    if tenant is None or not tenant.is_public or not request.user.is_authenticated:
        return {}
    roles = platform_roles(request.user)
    return {"console_nav": [{"href": href, "label": _(label)} for href, label, who in NAV if roles & set(who)],
            "platform_roles": roles}
