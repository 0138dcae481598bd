"""Resident pages of the registry: my data and my household."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from kernel.errors import DomainError
from modules.registry import selectors, services
from modules.registry.models import Resident


@login_required
def my_data(request):
    resident = Resident.objects.filter(user=request.user).first()
    errors: dict = {}
    if request.method == "POST" and resident is not None:
        try:
            services.correct_resident(actor=request.user, resident=resident,
                                      name=request.POST.get("name") or None,
                                      phone=request.POST.get("phone") or None,
                                      id_number=request.POST.get("id_number") or None)
            messages.success(request, _("Saved."))
            return redirect("registry:me")
        except DomainError as exc:
            errors = exc.fields or {"": [exc.message]}
    households = []
    if resident is not None:
        for household in selectors.current_households(resident).select_related("building__compound", "grid"):
            households.append({"household": household, "members": selectors.household_members(household)})
    return render(request, "registry/me.html", {"resident": resident, "households": households, "errors": errors})
