"""The public platform site: landing page, staff sign-in, and the console of districts."""
from __future__ import annotations

from django.contrib.auth import login, logout
from django.contrib.auth.forms import AuthenticationForm
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from tenants.access import OPS, districts_for, platform_role_required
from tenants.selectors import districts_for_console


def landing(request):
    return render(request, "console/landing.html", {"districts": districts_for_console().filter(status="active")})


def sign_in(request):
    form = AuthenticationForm(request, data=request.POST or None)
    if request.method == "POST" and form.is_valid():
        login(request, form.get_user())
        nxt = request.GET.get("next", "/console/")
        return redirect(nxt if nxt.startswith("/") and not nxt.startswith("//") else "/console/")
    return render(request, "console/login.html", {"form": form})


@require_POST
def sign_out(request):
    logout(request)
    return redirect("/")


def confirmed(request) -> bool:
    """The confirmation box of a district-changing form (console/_reason_form.html) is ticked."""
    return request.POST.get("confirm") in ("1", "on", "yes")


@platform_role_required(OPS)
@require_POST
def district_status(request, slug: str):
    """Suspend, resume or archive a district: ops only, with a reason and a confirmation (audited)."""
    from django.contrib import messages
    from django.shortcuts import get_object_or_404
    from django.utils.translation import gettext as _

    from kernel.errors import DomainError
    from tenants.services import set_status

    district = get_object_or_404(districts_for(request.user), slug=slug)
    if not confirmed(request):
        messages.error(request, _("Tick the box to confirm: nothing was changed."))
        return redirect("console:districts")
    try:
        district = set_status(actor=request.user, district=district, status=request.POST.get("status", ""),
                              reason=request.POST.get("reason", ""))
        messages.success(request, f"{district.name_zh}: {district.get_status_display()}")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("console:districts")


@platform_role_required()
def districts(request):
    from modules.catalog import catalog

    rows = [(d, catalog.effective(d)) for d in districts_for(request.user)]
    return render(request, "console/districts.html", {"rows": rows})
