"""Resident intake pages of the cases module: light HTML for cheap phones, a little plain script.

The snap report (``report/``), a suggestion (``suggest/``), and reports from a scanned code
(``code/<token>/report|praise|contact|request/``). The case page, a resident's cases and the staff
bench are in ``case_views``. The services decide; these views parse, call and render."""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from kernel import idempotency
from kernel.errors import DomainError
from modules.cases import pending, selectors, services
from modules.cases.case_views import (
    MAX_FILES,
    C,
    _actor,
    _case_url,
    _config,
    _own_households,
    _prepare_files,
    _track,
)
from modules.cases.models import (
    ADDRESS_MAX,
    DESCRIPTION_MAX,
    TITLE_MAX,
    Case,
    Category,
)
from modules.codes import selectors as codes
from modules.codes.models import Code
from modules.registry.models import Community, Compound, Street

FIRST_CATEGORIES = 8  # chips shown at once on the report page; the rest behind "more"
HOUSEHOLD_SCAN_KINDS = (Code.Kind.OUTDOOR, Code.Kind.HOUSEHOLD)
MERCHANT_SCAN_KINDS = (Code.Kind.MERCHANT, Code.Kind.STALL)

# Categories that belong to one channel (seeded by services.seed); the snap report offers the others.
CHANNEL_CATEGORY = {C.OUTDOOR_PRAISE: "praise", C.SUGGESTION: "suggestion", C.MERCHANT_REQUEST: "merchant_help"}


# --- intake: snap report, suggestion, from a code ------------------------------------------------------

@dataclass
class Intake:
    """One way in: the channel, what the page fixes (household, merchant), and the page's wording."""

    mode: str  # snap, suggestion, outdoor_report, outdoor_praise, household_report, merchant_request
    channel: str
    fixed: dict = field(default_factory=dict)
    code: Code | None = None
    target_label: str = ""
    sign_in_required: bool = False


def _categories(channel: str) -> list[Category]:
    active = Category.objects.filter(active=True).order_by("code")
    own = CHANNEL_CATEGORY.get(channel)
    if own:
        fixed = list(active.filter(code=own))
        if fixed:
            return fixed
        return list(active)
    others = list(active.exclude(code__in=CHANNEL_CATEGORY.values())) or list(active)
    order = {code: i for i, code in enumerate(selectors.category_order())}
    return sorted(others, key=lambda c: (order.get(c.code, len(order)), c.code))  # most reported first


def _compound_groups(prefix: str = "c") -> list[tuple[str, list[tuple[str, str]]]]:
    groups: dict[str, list] = {}
    for c in Compound.objects.select_related("community").order_by("community__code", "code"):
        groups.setdefault(c.community.name, []).append((f"{prefix}:{c.code}", c.name))
    return list(groups.items())


def _place_groups(user) -> list[tuple[str, list[tuple[str, str]]]]:
    """Options of the snap report's place picker: my home(s), my compound's shared areas, then every
    compound by community."""
    households = list(_own_households(user))
    groups = []
    if households:
        groups.append((_("My home"), [(f"h:{h.pk}", h.address) for h in households]))
        compounds = {h.building.compound.code: h.building.compound.name for h in households}
        groups.append((_("My compound (shared areas)"), [(f"c:{code}", name) for code, name in compounds.items()]))
    return groups + _compound_groups()


def _suggestion_groups() -> list[tuple[str, list[tuple[str, str]]]]:
    return [(_("Streets"), [(f"s:{s.code}", s.name) for s in Street.objects.order_by("code")]),
            (_("Communities"), [(f"m:{m.code}", m.name) for m in Community.objects.order_by("code")]),
            *[(_("Compounds of %(community)s") % {"community": name}, options)
              for name, options in _compound_groups()]]


def _where(request, intake: Intake) -> dict:
    """The place fields of the form, checked against what this page offers."""
    post = request.POST
    if intake.mode == "snap":
        kind, _sep, ref = post.get("place", "").partition(":")
        if kind == "h" and ref.isdigit():
            household = _own_households(request.user).filter(pk=int(ref)).first()
            if household is None:
                raise DomainError(_("Choose one of your own households, or a compound."),
                                  fields={"place": [_("Not your household.")]})
            return {"household": household}
        if kind == "c":
            compound = Compound.objects.filter(code=ref).first()
            if compound is None:
                raise DomainError(_("Choose a compound from the list."), fields={"place": [_("Unknown compound.")]})
            return {"compound": compound}
        if kind:
            raise DomainError(_("Choose a place from the list."), fields={"place": [_("Unknown place.")]})
        return {}
    if intake.mode == "suggestion":
        kind, _sep, ref = post.get("to", "").partition(":")
        model, name = {"s": (Street, "street"), "m": (Community, "community"), "c": (Compound, "compound")}.get(
            kind, (None, ""))
        if model is None:
            return {}  # the service says whom a suggestion must be for
        target = model.objects.filter(code=ref).first()
        if target is None:
            raise DomainError(_("Choose from the list whom the suggestion is for."), fields={"to": [_("Unknown.")]})
        return {name: target}
    return {}


FIELD_ALIASES = {"street": "to", "community": "to", "compound": "place", "household": "place",
                 "longitude": "latitude"}


def _submit(request, intake: Intake, categories: list[Category], prepared: list) -> Case:
    post = request.POST
    chosen = post.get("category", "")
    category = next((c for c in categories if c.code == chosen), None)
    if category is None and len(categories) == 1:
        category = categories[0]
    if category is None:
        raise DomainError(_("Choose what kind of problem it is."), fields={"category": [_("Choose one.")]})
    key = idempotency.clean_key(post.get("idempotency_key"))  # whole, or 400 naming the limit
    return services.submit_case_with_files(  # the case and its photos together; a form sent twice makes one case
        actor=_actor(request), prepared=prepared, channel=intake.channel, category=category,
        title=post.get("title", ""), description=post.get("description", ""), address=post.get("address", ""),
        latitude=post.get("latitude") or None, longitude=post.get("longitude") or None,
        contact=post.get("contact", "").strip() if not request.user.is_authenticated else "",
        idempotency_key=key, **_where(request, intake), **intake.fixed)


def _intake_page(request, intake: Intake):
    config = _config()
    if not request.user.is_authenticated and (intake.sign_in_required or not config.get("anonymous_reports", True)):
        return redirect_to_login(request.get_full_path())
    categories = _categories(intake.channel)
    form = {"idempotency_key": secrets.token_urlsafe(18)}
    upload_token = pending.token(form)
    errors, status = {}, 200
    if request.method == "POST":
        form = request.POST.dict()
        upload_token = pending.token(form)
        prepared = None
        try:
            # Kept files of the last try, then the new ones; all checked before anything is written.
            prepared = pending.take(request, upload_token, request.POST.getlist("kept")) + _prepare_files(request)
            case = _submit(request, intake, categories, prepared)
        except DomainError as exc:
            if prepared:  # the photos survive the round trip: shown again, sent with the next try
                pending.keep(request, upload_token, prepared)
            errors = {}
            for name, problems in (exc.fields or {"": [exc.message]}).items():
                errors.setdefault(FIELD_ALIASES.get(name, name), []).extend(problems)
            messages.error(request, exc.message)
            status = exc.status
            idempotency.refresh_form_key(form, exc)
        else:
            pending.drop(request, upload_token)
            _track(request, case)
            return redirect(_case_url(case) + "?new=1")
    shown = categories[:FIRST_CATEGORIES]
    if len(categories) <= FIRST_CATEGORIES + 2:  # hiding one or two behind "more" helps nobody
        shown = categories
    ctx = {"intake": intake, "mode": intake.mode, "categories": categories, "form": form, "errors": errors,
           "first_categories": shown, "more_categories": categories[len(shown):],
           "more_open": form.get("category") in {c.code for c in categories[len(shown):]},
           "title_max": TITLE_MAX, "description_max": DESCRIPTION_MAX, "address_max": ADDRESS_MAX,
           "max_files": MAX_FILES, "kept_files": pending.listed(request, upload_token),
           "points_on": request.tenant.has_module("points"),  # the praise page promises points only then
           "max_video_mb": config.get("max_video_mb", 30), "anonymous": not request.user.is_authenticated}
    if intake.mode == "snap":
        ctx["place_groups"] = _place_groups(request.user)
    if intake.mode == "suggestion":
        ctx["to_groups"] = _suggestion_groups()
    return render(request, "cases/report.html", ctx, status=status)


@require_http_methods(["GET", "POST"])
def report(request):
    """随手拍: photos or a short video, category, description, and the place."""
    token = request.GET.get("code")
    if token and request.method == "GET":  # ?code=<token>: the code's own report page
        try:
            code = codes.code_by_token(token)
        except codes.CodeNotFound as exc:
            raise Http404 from exc
        if code.kind in HOUSEHOLD_SCAN_KINDS:
            return redirect("cases:code-report", token=token)
        if code.kind in MERCHANT_SCAN_KINDS:
            return redirect("cases:code-request", token=token)
        raise Http404
    return _intake_page(request, Intake(mode="snap", channel=C.SNAP))


@require_http_methods(["GET", "POST"])
def suggest(request):
    """码上纳谏: a suggestion to a street, a community or a compound, followed to a reply."""
    return _intake_page(request, Intake(mode="suggestion", channel=C.SUGGESTION))


def _scanned(token: str, kinds) -> Code:
    try:
        code = codes.code_by_token(token)
    except codes.CodeNotFound as exc:
        raise Http404 from exc
    if code.kind not in kinds:
        raise Http404
    return code


@require_http_methods(["GET", "POST"])
def code_report(request, token: str):
    """Outdoor code: report uncivil behaviour at or near that household. Household code: a resident
    of the household reports a problem at home."""
    code = _scanned(token, HOUSEHOLD_SCAN_KINDS)
    if not code.is_active:
        return redirect("code-scan", token=token)
    household = code.household
    if code.kind == Code.Kind.HOUSEHOLD:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if codes.membership_of(request.user, household) is None:
            raise PermissionDenied
        intake = Intake(mode="household_report", channel=C.SNAP, fixed={"household": household}, code=code,
                        target_label=household.address)
    else:
        intake = Intake(mode="outdoor_report", channel=C.OUTDOOR_REPORT, fixed={"household": household}, code=code,
                        target_label=household.address)
    return _intake_page(request, intake)


@require_http_methods(["GET", "POST"])
def code_praise(request, token: str):
    """Outdoor code: praise a good deed of that household."""
    code = _scanned(token, (Code.Kind.OUTDOOR,))
    if not code.is_active:
        return redirect("code-scan", token=token)
    return _intake_page(request, Intake(mode="outdoor_praise", channel=C.OUTDOOR_PRAISE,
                                        fixed={"household": code.household}, code=code,
                                        target_label=code.household.address))


@require_http_methods(["GET", "POST"])
def code_request(request, token: str):
    """Merchant or stall code: the owner asks the district for help (handled on receipt)."""
    code = _scanned(token, MERCHANT_SCAN_KINDS)
    if not code.is_active:
        return redirect("code-scan", token=token)
    if request.user.is_authenticated and code.merchant.owner_id != request.user.pk:
        raise PermissionDenied
    return _intake_page(request, Intake(mode="merchant_request", channel=C.MERCHANT_REQUEST,
                                        fixed={"merchant": code.merchant}, code=code,
                                        target_label=code.merchant.name, sign_in_required=True))


@require_safe
def code_contact(request, token: str):
    """Outdoor code: whom to contact about this place (grid worker, community police, property
    manager): the duty numbers the district publishes, as tap-to-call links, and the code's report and
    praise. No case is made."""
    try:
        scan = codes.resolve_scan(token, request.user)
    except codes.CodeNotFound as exc:
        raise Http404 from exc
    code = scan.code
    if code.kind != Code.Kind.OUTDOOR:
        raise Http404
    if scan.revoked:
        return redirect("code-scan", token=token)
    household = code.household
    return render(request, "cases/contact.html", {
        "code": code, "household": household, "contacts": scan.contacts,
        "community": household.grid.community, "grid": household.grid,
        "actions": [(a, url) for a, url in scan.actions if a.module == "cases" and a.key != "contact"],
    })
