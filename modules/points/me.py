"""The person's own figures on their personal home (ModuleSpec.me_figures): their civic points."""
from __future__ import annotations

from django.urls import reverse

from modules.registry.models import Resident
from modules.spec import MeFigure


def figures(user) -> list[MeFigure]:
    if not getattr(user, "is_authenticated", False):
        return []
    resident = Resident.objects.filter(user=user).values_list("pk", flat=True).first()
    if resident is None:
        return []  # not bound to a household: the points page says how to bind
    from modules.points.ledger.selectors import balances

    civic = balances(resident).get("civic", 0)
    return [MeFigure("points", "我的积分", "My points", civic, reverse("points:home"))]
