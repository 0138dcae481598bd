"""The go-live checklist of a district and "go live" (District.live_at).

Until a district goes live, residents see "being set up" (tenants.middleware) while its staff work
normally; the district admin (on /manage/) and the vendor (on the console's district page) see what
is left. The checklist is computed from real state by the set-up checks the apps register
(``kernel.lifecycle_hooks.register_check``): the administrator signed in (accounts), the ledger
imported (registry), the responsibility list set (cases), the first codes printed (codes), billing
active (billing). ``go_live`` refuses (409, listing what is left) until every check is done; platform
staff (ops) may override with a reason.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_tenants.utils import tenant_context

from kernel import audit
from kernel.errors import Conflict, NotAllowed
from kernel.lifecycle_hooks import setup_checks

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Item:
    key: str
    label_zh: str
    label_en: str
    done: bool
    where: str  # path on the district's domain ("" none)
    url: str  # the same, as a full link (for the console on the platform's domain)

    @property
    def label(self) -> str:
        return self.label_en if (translation.get_language() or "").startswith("en") else self.label_zh


def _origin(district) -> str:
    from accounts.invitations import origin

    try:
        return origin(district)
    except Exception:  # noqa: BLE001 - a link is a convenience; the checklist must still show
        return f"https://{district.primary_domain}"


def checklist(district) -> list[Item]:
    """Every set-up check that applies to ``district`` (its modules), evaluated in its schema."""
    items = []
    with tenant_context(district):
        site = _origin(district)
        for check in setup_checks(district):
            try:
                done = bool(check.done(district))
            except Exception:  # a broken check counts as not done; it must not break the page
                log.exception("set-up check %s failed for %s", check.key, district.slug)
                done = False
            items.append(Item(key=check.key, label_zh=check.label_zh, label_en=check.label_en, done=done,
                              where=check.where, url=f"{site}{check.where}" if check.where else ""))
    return items


def remaining(district) -> list[Item]:
    return [item for item in checklist(district) if not item.done]


def go_live(*, actor, district, reason: str, override: bool = False, now=None):
    """Open the district to its residents (``live_at``). Refused (409, with what is left) until the
    checklist is done, unless ``override`` by platform staff (ops), whose reason is kept. Audited."""
    from tenants.access import OPS, has_platform_role
    from tenants.models import District
    from tenants.services import require_reason

    reason = require_reason(reason)
    left = remaining(district)
    if left and override and not has_platform_role(actor, OPS):
        raise NotAllowed(_("Only platform staff may open a district before its checklist is done."))
    if left and not override:
        labels = [item.label for item in left]
        raise Conflict(_("Not ready to go live; still to do: %(left)s.") % {"left": "、".join(labels)},
                       code="checklist_incomplete", fields={"checklist": labels})
    with transaction.atomic():
        district = District.objects.select_for_update().get(pk=district.pk)
        if district.live_at is not None:
            raise Conflict(_("This district is already live."), code="already_live")
        if not district.is_serving:
            raise Conflict(_("Only an active district can go live (this one is %(s)s).")
                           % {"s": district.get_status_display()}, code="not_serving")
        district.live_at = now or timezone.now()
        district.save(update_fields=["live_at"])
        audit.record(actor=actor, action="district.go_live", target=district,
                     after={"reason": reason, "override": bool(left), "left": [item.key for item in left]})
    return district
