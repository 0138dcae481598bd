"""The public platform site: landing page, staff sign-in, and the console of districts."""
from __future__ import annotations

from django.contrib.auth import login, logout
from django.contrib.auth.decorators import user_passes_test
from django.contrib.auth.forms import AuthenticationForm
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from tenants.selectors import district_kpis, districts_for_console


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


platform_staff = user_passes_test(lambda u: u.is_authenticated and u.is_staff, login_url="/login/")


@platform_staff
@require_POST
def district_status(request, slug: str):
    """Suspend, resume or archive a district (audited)."""
    from django.contrib import messages
    from django.shortcuts import get_object_or_404

    from kernel.errors import DomainError
    from tenants.services import set_status

    district = get_object_or_404(districts_for_console(), slug=slug)
    try:
        set_status(actor=request.user, district=district, status=request.POST.get("status", ""),
                   reason=request.POST.get("reason", ""))
        messages.success(request, f"{district.name_zh}: {request.POST.get('status')}")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("console:districts")


@platform_staff
def districts(request):
    rows = [(d, district_kpis(d) if d.is_serving else {}) for d in districts_for_console()]
    return render(request, "console/districts.html", {"rows": rows})
