"""The public platform site: landing page, staff sign-in, and the console of districts."""
from __future__ import annotations

from django.contrib.auth import login, logout
from django.contrib.auth.forms import AuthenticationForm
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from tenants.access import OPS, VENDOR, districts_for, has_platform_role, platform_role_required
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
    """Suspend or resume a district: ops only, with a reason and a confirmation (audited). Archiving is
    the lifecycle page's (/console/lifecycle/<slug>/), which also records the retention period."""
    from django.contrib import messages
    from django.shortcuts import get_object_or_404
    from django.utils.translation import gettext as _

    from kernel.errors import DomainError
    from tenants.services import MANUAL_STATUSES, set_status

    district = get_object_or_404(districts_for(request.user), slug=slug)
    if not confirmed(request):
        messages.error(request, _("Tick the box to confirm: nothing was changed."))
        return redirect("console:districts")
    if request.POST.get("status") not in MANUAL_STATUSES:
        messages.error(request, _("Archive a district on its archive and export page."))
        return redirect("console:districts")
    try:
        district = set_status(actor=request.user, district=district, status=request.POST.get("status", ""),
                              reason=request.POST.get("reason", ""))
        messages.success(request, f"{district.name_zh}: {district.get_status_display()}")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect(_back(request, "console:districts"))


def _back(request, default: str, **kwargs) -> str:
    """Where a console form returns to: its ``next`` (a console path) or ``default``."""
    from django.urls import reverse

    nxt = request.POST.get("next", "")
    return nxt if nxt.startswith("/console/") and "//" not in nxt else reverse(default, kwargs=kwargs or None)


@platform_role_required()
def districts(request):
    from modules.catalog import catalog

    rows = [(d, catalog.effective(d)) for d in districts_for(request.user)]
    return render(request, "console/districts.html", {"rows": rows})


def _detail_context(request, district) -> dict:
    from accounts.invitations import pending_admins
    from modules.catalog import catalog
    from tenants.golive import checklist

    items = checklist(district) if district.is_serving or district.status == "suspended" else []
    return {
        "d": district,
        "domains": list(district.domains.all()),
        "modules": catalog.effective(district),
        "checklist": items,
        "left": [i for i in items if not i.done],
        "pending_admins": pending_admins(district) if district.status != "provisioning" else [],
        "can_act": has_platform_role(request.user, OPS, VENDOR),
        "is_ops": has_platform_role(request.user, OPS),
    }


@platform_role_required()
def district_detail(request, slug: str):
    """One district as the vendor (its own only: another's is 404) and platform staff see it: status,
    domains, modules, the go-live checklist with links, go live, the administrator's invitation, status
    actions (ops), and the billing and lifecycle pages of the district."""
    from django.shortcuts import get_object_or_404

    district = get_object_or_404(districts_for(request.user), slug=slug)
    return render(request, "console/district_detail.html", _detail_context(request, district))


@platform_role_required(OPS, VENDOR)
@require_POST
def district_go_live(request, slug: str):
    """Open the district to its residents: the checklist done (ops may override), a reason, a confirmation."""
    from django.contrib import messages
    from django.shortcuts import get_object_or_404
    from django.utils.translation import gettext as _

    from kernel.errors import DomainError
    from tenants.golive import go_live

    district = get_object_or_404(districts_for(request.user), slug=slug)
    if not confirmed(request):
        messages.error(request, _("Tick the box to confirm: nothing was changed."))
        return redirect("console:district", slug=slug)
    try:
        go_live(actor=request.user, district=district, reason=request.POST.get("reason", ""),
                override=request.POST.get("override") == "1")
        messages.success(request, _("%(name)s is open to its residents.") % {"name": district.name_zh})
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("console:district", slug=slug)


@platform_role_required(OPS, VENDOR)
@require_POST
def district_invite(request, slug: str):
    """Re-issue the district administrator's invitation (the old link stops working). The new link is
    shown once, on this answer, for the vendor to pass on (and texted to the administrator's phone)."""
    from django.shortcuts import get_object_or_404

    from accounts.invitations import reissue_admin_invite
    from kernel.errors import DomainError

    district = get_object_or_404(districts_for(request.user), slug=slug)
    ctx = {}
    try:
        ctx["invite_url"] = reissue_admin_invite(actor=request.user, district=district,
                                                 username=request.POST.get("username") or None)
        status = 200
    except DomainError as exc:
        ctx["invite_error"] = exc.message
        status = exc.status
    response = render(request, "console/district_detail.html", {**_detail_context(request, district), **ctx},
                      status=status)
    response["Cache-Control"] = "no-store"  # the link is a secret
    return response
