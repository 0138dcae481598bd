"""Benefit pages of the points module: light HTML for cheap phones, a few lines of plain script.

- ``benefits/`` (resident): their tier, the benefits of every tier (unlocked now, or at the next
  tier), their personal code — a QR that changes every minute, like a payment code — and the
  honour-list choice;
- ``verify/<token>/`` (provider staff, after scanning the code with any phone camera): the tier and the
  benefits of their provider the resident may use now, each with a button that records a use. Nothing
  personal: no name, phone, ID number or balance. ``verify/`` is their desk (recent uses);
- ``honour/`` (public): the honour list of residents who opted in;
- ``providers/`` and ``providers/<id>/`` (district administrator): providers, staff and benefits.

The services decide; these views parse, call and render."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from kernel.errors import DomainError
from kernel.permissions import role_required
from kernel.personal import mask_name
from kernel.roles import Role
from modules.points.benefits import selectors as sel
from modules.points.benefits import services
from modules.points.ledger.selectors import compound_ranking, tiers
from modules.points.ledger.services import resident_of
from modules.points.models import (
    Benefit,
    BenefitUse,
    HonourOptIn,
    LimitPeriod,
    Provider,
    ProviderKind,
    ProviderStaff,
)
from modules.registry.models import Community

KIND_ICONS = {"school": "🏫", "clinic": "🏥", "culture": "🎭", "shop": "🛍️", "tax": "🧾", "other": "🎁"}


def _tier_labels(english: bool) -> list[dict]:
    return [{**t, "label": sel.tier_name(t, english)} for t in tiers()]


def _english(request) -> bool:
    return (getattr(request, "LANGUAGE_CODE", "") or "").startswith("en")


# --- resident -------------------------------------------------------------------------------------------

@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def benefits(request):
    """The resident's tier, the benefits per tier, the personal code and the honour-list choice."""
    resident = resident_of(request.user)
    english = _english(request)
    if resident is None:
        return render(request, "points/benefits/mine.html", {"no_resident": True}, status=404)
    if request.method == "POST":
        try:
            services.set_honour_opt_in(actor=request.user, public=request.POST.get("public") == "1",
                                       show_name=request.POST.get("show_name") or HonourOptIn.ShowName.MASKED)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Saved. The honour list shows your choice at once."))
        return redirect("points:benefits")
    data = sel.benefits_for(resident)
    opt_in = sel.opt_in_of(resident)
    for row in data.rows:
        row.icon = KIND_ICONS.get(row.benefit.provider.kind, "🎁")
    progress = 0
    if data.next_tier:
        base = data.tier["min_points"] if data.tier else 0
        span = max(data.next_tier["min_points"] - base, 1)
        progress = max(0, min(100, round(100 * (data.points - base) / span)))
    return render(request, "points/benefits/mine.html", {
        "data": data, "tier_label": sel.tier_name(data.tier, english),
        "next_label": sel.tier_name(data.next_tier, english), "progress": progress,
        "groups": [{"tier": g.tier, "label": sel.tier_name(g.tier, english), "reached": g.reached,
                    "is_next": g.is_next, "rows": g.benefits} for g in data.groups],
        "code": sel.personal_code(resident) if data.tier else None,
        "opt_in": opt_in, "show_names": HonourOptIn.ShowName.choices,
        "masked_example": mask_name(resident.name),
    })


@login_required
@never_cache
@require_safe
def benefit_code(request):
    """A fresh personal code for the resident's page (fetched every minute)."""
    resident = resident_of(request.user)
    if resident is None:
        return JsonResponse({"error": {"status": 404, "code": "no_resident", "message": _(
            "Your account is not linked to a registered resident yet: bind your household first.")}}, status=404)
    if sel.tier_of(resident) is None:
        return JsonResponse({"error": {"status": 409, "code": "no_tier", "message": _(
            "Your personal code appears once you reach the first tier.")}}, status=409)
    return JsonResponse(sel.personal_code(resident))


# --- provider staff -------------------------------------------------------------------------------------

def _refused(request, exc: DomainError):
    return render(request, "points/benefits/refused.html", {"message": exc.message, "code": exc.code},
                  status=exc.status)


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def verify(request, token: str):
    """What provider staff see after scanning a personal code; POST ``benefit`` records a use."""
    if request.method == "POST":
        benefit = Benefit.objects.select_related("provider").filter(pk=_int(request.POST.get("benefit"))).first()
        if benefit is None:
            return _refused(request, DomainError(_("Choose one of the benefits shown."), code="unknown_benefit"))
        try:
            use, created = services.record_use(actor=request.user, token=token, benefit=benefit)
        except DomainError as exc:
            if exc.code in ("tier_too_low", "limit_reached", "benefit_unavailable"):
                messages.error(request, exc.message)
                return redirect("points:verify", token=token)
            return _refused(request, exc)
        if created:
            messages.success(request, _("Recorded: %(title)s.") % {"title": benefit.title})
        else:
            messages.info(request, _("Already recorded: %(title)s (counted once).") % {"title": benefit.title})
        return redirect("points:verify", token=token)
    try:
        view = sel.provider_view(token, request.user)
    except DomainError as exc:
        return _refused(request, exc)
    english = _english(request)
    rows = [r for _p, found in view.providers for r in found]
    keys = {services.use_key(token=token, benefit=r.benefit): r for r in rows}
    for key in BenefitUse.objects.filter(idempotency_key__in=list(keys)).values_list("idempotency_key", flat=True):
        keys[key].recorded = True  # with this code: another use needs a new code
    return render(request, "points/benefits/verify.html", {
        "tier": view.tier, "tier_label": sel.tier_name(view.tier, english),
        "providers": [{"provider": p, "icon": KIND_ICONS.get(p.kind, "🎁"), "rows": rows} for p, rows in view.providers],
        "token": token, "valid_minutes": sel.TOKEN_MAX_AGE // 60,
    })


@login_required
@never_cache
@require_safe
def desk(request):
    """The provider staff's desk: how to scan, and the last uses recorded at their provider."""
    mine = sel.providers_of(request.user)
    if not mine:
        return _refused(request, sel.not_provider_staff())
    english = _english(request)
    uses = sel.recent_uses(request.user)
    names = {t["key"]: sel.tier_name(t, english) for t in tiers()}
    for use in uses:
        use.tier_label = names.get(use.tier, use.tier)
    return render(request, "points/benefits/desk.html", {"providers": mine, "uses": uses})


def _int(value) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


# --- the public honour list ---------------------------------------------------------------------------

@require_safe
def honour(request):
    community = (request.GET.get("community") or "").strip()[:20] or None
    return render(request, "points/benefits/honour.html", {
        "rows": sel.honour_list(limit=sel.HONOUR_LIMIT, community=community),
        "compounds": compound_ranking(limit=20, community=community),
        "communities": Community.objects.order_by("code").values("code", "name"),
        "community": community or "",
        "signed_in_resident": request.user.is_authenticated and resident_of(request.user) is not None,
    })


# --- district administrator -----------------------------------------------------------------------------

PROVIDER_FORM = ("name", "kind", "address", "phone")
BENEFIT_FORM = ("title", "description", "min_tier", "limit_count", "limit_period", "valid_from", "valid_to")


def _form(post, names) -> dict:
    return {n: post.get(n, "") for n in names}


@role_required(Role.DISTRICT_ADMIN)
@require_http_methods(["GET", "POST"])
def providers(request):
    """Every provider with its staff and benefits; a new provider."""
    ctx = {"failed": "", "errors": {}, "form": {}}
    status = 200
    if request.method == "POST":
        try:
            provider = services.create_provider(actor=request.user, **_form(request.POST, PROVIDER_FORM))
        except DomainError as exc:
            ctx.update(failed="create", errors=exc.fields or {"name": [exc.message]}, form=request.POST)
            status = exc.status
        else:
            messages.success(request, _("Provider %(name)s added. Now add its staff and benefits.")
                             % {"name": provider.name})
            return redirect("points:provider", pk=provider.pk)
    rows = list(Provider.objects.order_by("kind", "name").prefetch_related("benefits", "staff"))
    for p in rows:
        p.icon = KIND_ICONS.get(p.kind, "🎁")
    ctx.update(providers=rows, kinds=ProviderKind.choices)
    return render(request, "points/benefits/providers.html", ctx, status=status)


@role_required(Role.DISTRICT_ADMIN)
@require_http_methods(["GET", "POST"])
def provider(request, pk: int):
    """One provider: its details, its staff (added by username) and its benefits."""
    item = get_object_or_404(Provider, pk=pk)
    ctx = {"failed": "", "errors": {}, "form": {}}
    status = 200
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            done = _provider_action(request, item, action)
        except DomainError as exc:
            ctx.update(failed=action, errors=exc.fields or {"__all__": [exc.message]}, form=request.POST,
                       failed_benefit=_int(request.POST.get("benefit")), message=exc.message)
            status = exc.status
        else:
            messages.success(request, done)
            return redirect("points:provider", pk=item.pk)
        item.refresh_from_db()
    english = _english(request)
    names = {t["key"]: sel.tier_name(t, english) for t in tiers()}
    benefits = list(item.benefits.order_by("-active", "title"))
    for b in benefits:
        b.tier_label = names.get(b.min_tier, b.min_tier)
        b.tier_known = b.min_tier in names
        b.limit_label = sel.limit_text(b)
        b.use_count = b.uses.count()
    ctx.update(provider=item, icon=KIND_ICONS.get(item.kind, "🎁"), kinds=ProviderKind.choices,
               staff=list(item.staff.select_related("user").order_by("user__username")), benefits=benefits,
               tiers=_tier_labels(english), periods=LimitPeriod.choices)
    return render(request, "points/benefits/provider.html", ctx, status=status)


def _provider_action(request, item: Provider, action: str) -> str:
    post, user = request.POST, request.user
    if action == "update":
        services.update_provider(actor=user, provider=item, active=post.get("active") == "1",
                                 **_form(post, PROVIDER_FORM))
        return _("Saved.")
    if action == "staff_add":
        row, created = services.add_provider_staff(actor=user, provider=item, username=post.get("username", ""))
        name = row.user.display_name or row.user.username
        return (_("%(name)s may now check personal codes for %(provider)s.") if created else
                _("%(name)s is already staff of %(provider)s.")) % {"name": name, "provider": item.name}
    if action == "staff_remove":
        row = ProviderStaff.objects.filter(provider=item, user_id=_int(post.get("user"))).select_related("user").first()
        if row is None:
            raise Http404
        services.remove_provider_staff(actor=user, provider=item, user=row.user)
        return _("%(name)s no longer checks codes for %(provider)s.") % {
            "name": row.user.display_name or row.user.username, "provider": item.name}
    if action == "benefit_add":
        benefit = services.create_benefit(actor=user, provider=item, **_form(post, BENEFIT_FORM))
        return _("Benefit %(title)s added.") % {"title": benefit.title}
    if action == "benefit_update":
        benefit = get_object_or_404(Benefit, pk=_int(post.get("benefit")), provider=item)
        services.update_benefit(actor=user, benefit=benefit, active=post.get("active") == "1",
                                **_form(post, BENEFIT_FORM))
        return _("Benefit %(title)s saved.") % {"title": post.get("title") or benefit.title}
    raise DomainError(_("Unknown action."), code="unknown_action")

