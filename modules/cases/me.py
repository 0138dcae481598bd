"""The person's own figures on their personal home (ModuleSpec.me_figures): their open cases, and
those that wait for their confirmation."""
from __future__ import annotations

from django.urls import reverse

from modules.cases.models import Case
from modules.spec import MeFigure


def figures(user) -> list[MeFigure]:
    if not getattr(user, "is_authenticated", False):
        return []
    mine = Case.objects.filter(reporter=user)
    url = reverse("cases:mine")
    out = [MeFigure("open_cases", "在办诉求", "Open cases", mine.filter(status__in=Case.OPEN).count(), url)]
    waiting = mine.filter(status=Case.Status.RESOLVED).count()
    if waiting:
        out.append(MeFigure("cases_to_confirm", "待我确认", "To confirm", waiting, url))
    return out
