"""Pages of the codes module: the landing page of a scanned code (light HTML for cheap phones, no
script), binding to a household, the household head's invitations, and the staff pages (pending
bindings, print runs, a code's re-issue)."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from kernel.errors import DomainError
from kernel.permissions import has_role, role_required
from kernel.roles import STAFF_ROLES
from modules.codes import selectors, services
from modules.codes.models import BindingRequest, Code, PrintRun
from modules.codes.qr import matrix, svg
from modules.registry.models import Community, Membership, Street


def _error_page(request, status: int, code: str, title_zh: str, title_en: str, detail_zh: str = "",
                detail_en: str = ""):
    from tenants.middleware import error_response

    return error_response(request, status, code, title_zh, title_en, detail_zh, detail_en,
                          district=getattr(request, "tenant", None))


# --- scanning ------------------------------------------------------------------------------------------

@require_safe
def scan(request, token: str):
    """GET /c/<token>: what this code is and what this viewer can do with it."""
    try:
        result = selectors.resolve_scan(token, request.user)
    except selectors.CodeNotFound:
        return _error_page(request, 404, "code_not_found", "找不到这个码", "No such code",
                           "这个二维码不是本区县发放的，或者没有扫完整。请重新扫描，或联系网格员。",
                           "This QR code was not issued here, or was not scanned completely. "
                           "Scan it again or ask your grid worker.")
    code = result.code
    if result.revoked:
        return render(request, "codes/revoked.html", {"code": code, "scan": result,
                                                      "staff": "staff" in result.audiences}, status=410)
    ctx = {"scan": result, "code": code, "summary": result.summary, "viewer": result.viewer,
           "audiences": result.audiences, "actions": result.actions, "contacts": result.contacts}
    if code.household_id and {"resident", "staff"} & result.audiences:
        ctx["members"] = selectors.members(code.household)
        ctx["is_head"] = "owner" in result.audiences
    if code.household_id and "staff" in result.audiences:
        ctx["pending"] = BindingRequest.objects.filter(household=code.household,
                                                       status=BindingRequest.Status.PENDING).count()
    if request.user.is_authenticated and code.kind == Code.Kind.HOUSEHOLD:
        ctx["my_request"] = BindingRequest.objects.filter(user=request.user, household=code.household).first()
    return render(request, "codes/landing.html", ctx)


# --- binding -------------------------------------------------------------------------------------------

def _household_code(token: str) -> Code:
    try:
        code = selectors.code_by_token(token)
    except selectors.CodeNotFound:
        raise Http404
    if code.kind != Code.Kind.HOUSEHOLD:
        raise Http404
    return code


@login_required
def bind(request, token: str):
    """After scanning the household code and signing in: name and ID number."""
    code = _household_code(token)
    ctx = {"code": code, "errors": {}, "name": "", "id_number": ""}
    if not code.is_active:
        return redirect("code-scan", token=token)
    if request.method == "POST":
        ctx.update(name=request.POST.get("name", ""), id_number=request.POST.get("id_number", ""))
        try:
            binding = services.request_binding(user=request.user, code=code, name=ctx["name"],
                                               id_number=ctx["id_number"])
            return render(request, "codes/bind_result.html", {"code": code, "binding": binding})
        except DomainError as exc:
            ctx["errors"] = exc.fields or {"": [exc.message]}
            ctx["error"] = exc.message
    return render(request, "codes/bind.html", ctx)


@role_required(*STAFF_ROLES)
def bindings(request):
    """Staff: binding requests waiting in their area, to approve or reject."""
    status = request.GET.get("status") or BindingRequest.Status.PENDING
    rows = selectors.bindings_for(request.user, status=status if status != "all" else None)[:200]
    return render(request, "codes/bindings.html", {"rows": rows, "status": status,
                                                   "relations": Membership.Relation.choices})


@role_required(*STAFF_ROLES)
@require_POST
def decide(request, pk: int):
    row = get_object_or_404(selectors.bindings_for(request.user, status=None), pk=pk)
    try:
        if request.POST.get("decision") == "approve":
            services.approve_binding(actor=request.user, request=row,
                                     relation=request.POST.get("relation") or Membership.Relation.MEMBER)
            messages.success(request, _("Bound: %(name)s.") % {"name": row.name})
        else:
            services.reject_binding(actor=request.user, request=row, reason=request.POST.get("reason", ""))
            messages.success(request, _("Rejected: %(name)s.") % {"name": row.name})
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("codes:bindings")


# --- the household head --------------------------------------------------------------------------------

@login_required
def invite(request, token: str):
    """The household head makes a one-time link (shown as a link and a QR to scan on their phone)."""
    code = _household_code(token)
    ctx = {"code": code}
    if request.method == "POST":
        try:
            made = services.create_invite(actor=request.user, household=code.household,
                                          relation=request.POST.get("relation") or Membership.Relation.MEMBER)
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect("code-scan", token=token)
        url = f"{selectors.site_origin()}{reverse('codes:join', kwargs={'invite': made.token})}"
        ctx.update(made=made, url=url, qr_svg=svg(matrix(url, "M"), size_mm=40))
    elif selectors.membership_of(request.user, code.household) is None:
        raise PermissionDenied
    return render(request, "codes/invite.html", ctx)


@login_required
def join(request, invite: str):
    """The invited person accepts: name and ID number, then bound (the head vouched)."""
    try:
        row = selectors.open_invite(invite)
    except DomainError:
        return _error_page(request, 404, "invite_not_found", "找不到这个邀请", "No such invitation",
                           "请让户主重新生成邀请链接。", "Ask the household head for a new link.")
    ctx = {"invite": row, "errors": {}, "name": "", "id_number": "",
           "expired": row.expires_at <= timezone.now(), "used": row.used_at is not None}
    if request.method == "POST" and not (ctx["expired"] or ctx["used"]):
        ctx.update(name=request.POST.get("name", ""), id_number=request.POST.get("id_number", ""))
        try:
            services.accept_invite(user=request.user, invite=row, name=ctx["name"], id_number=ctx["id_number"])
            messages.success(request, _("You have joined %(address)s.") % {"address": row.household.address})
            code = selectors.active_code(household=row.household)
            return redirect("code-scan", token=code.token) if code else redirect("/")
        except DomainError as exc:
            ctx["errors"] = exc.fields or {"": [exc.message]}
            ctx["error"] = exc.message
    return render(request, "codes/join.html", ctx)


@login_required
@require_POST
def remove_member(request, token: str, membership: int):
    code = _household_code(token)
    row = get_object_or_404(Membership, pk=membership, household=code.household)
    try:
        services.remove_member(actor=request.user, membership=row)
        messages.success(request, _("%(name)s has left the household.") % {"name": row.resident.name})
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("code-scan", token=token)


# --- staff ---------------------------------------------------------------------------------------------

@role_required(*STAFF_ROLES)
def index(request):
    return render(request, "codes/index.html", {
        "pending": selectors.bindings_for(request.user).count(),
        "runs": selectors.print_runs_for(request.user)[:5],
        "can_print": has_role(request.user, *selectors.PRINTERS),
    })


@role_required(*STAFF_ROLES)
def code_detail(request, token: str):
    """A code seen by staff of its area: its history, and re-issue when a plate is lost."""
    try:
        code = selectors.code_by_token(token)
    except selectors.CodeNotFound:
        raise Http404
    if not selectors.may_manage(request.user, code.target, roles=STAFF_ROLES):
        raise PermissionDenied
    if request.method == "POST":
        try:
            new = services.revoke_and_reissue(actor=request.user, code=code, reason=request.POST.get("reason", ""))
            messages.success(request, _("A new code was issued; the old one no longer works. Print it from here."))
            return redirect("codes:code", token=new.token)
        except DomainError as exc:
            messages.error(request, exc.message)
    history = Code.objects.filter(kind=code.kind, household=code.household_id, merchant=code.merchant_id,
                                  official=code.official_id).order_by("-issued_at")
    url = selectors.url_of(code)
    return render(request, "codes/code.html", {
        "code": code, "history": history, "url": url,
        "qr_svg": svg(matrix(url, selectors.config()["error_correction"]), size_mm=45) if code.is_active else "",
        "can_manage": selectors.may_manage(request.user, code.target)})


@role_required(*STAFF_ROLES)
def print_runs(request):
    """Print runs of the staff member's area; a new one for a community or a street."""
    if request.method == "POST":
        try:
            scope_kind, _sep, scope_code = request.POST.get("scope", "").partition(":")
            run = services.create_print_run(
                actor=request.user, scope_kind=scope_kind, scope_code=scope_code, kinds=request.POST.getlist("kinds"),
                codes_per_sheet=int(request.POST.get("codes_per_sheet") or 0) or None)
            return redirect("codes:print-run", pk=run.pk)
        except (DomainError, ValueError) as exc:
            messages.error(request, getattr(exc, "message", str(exc)))
    return render(request, "codes/print_runs.html", {
        "runs": selectors.print_runs_for(request.user)[:50],
        "communities": Community.objects.select_related("street"), "streets": Street.objects.all(),
        "kinds": [(k, Code.Kind(k).label) for k in services.PRINTABLE],
        "per_sheet": selectors.config()["codes_per_sheet"], "layouts": (1, 2, 4, 6, 8, 12, 24)})


@role_required(*STAFF_ROLES)
def print_run(request, pk: int):
    run = get_object_or_404(selectors.print_runs_for(request.user), pk=pk)
    return render(request, "codes/print_run.html", {"run": run})


@role_required(*STAFF_ROLES)
def print_run_file(request, pk: int, part: str):
    run = get_object_or_404(selectors.print_runs_for(request.user), pk=pk)
    field = {"pdf": run.pdf, "zip": run.zip}.get(part)
    if field is None or run.status != PrintRun.Status.DONE or not field:
        raise Http404
    name = f"codes-{run.scope_code}-{run.pk}.{'pdf' if part == 'pdf' else 'zip'}"
    return FileResponse(field.open("rb"), as_attachment=True, filename=name)
