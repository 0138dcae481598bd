"""The resident's points pages (light HTML for cheap phones): the balance with the honour tier and
the way to the next one, the history with the reason, source and approver of every entry and its
reversal marks, the appeal of an entry, and the resident's appeals with the committee's decision.

Signed-in only; an account not bound to a registered resident gets a page that says how to bind the
household. The services decide (``committee.appeals.file_appeal``); these views parse, call and render."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_safe

from kernel.errors import DomainError
from modules.points.committee.appeals import file_appeal
from modules.points.committee.models import Appeal
from modules.points.ledger import pages
from modules.points.ledger.models import SourceKind
from modules.points.ledger.services import resident_of

APPEAL_REASON_MAX = 2000  # file_appeal's limit

SOURCE_LABELS = {
    SourceKind.MANUAL: gettext_lazy("Posted by staff"),
    SourceKind.PROPOSAL: gettext_lazy("Committee decision"),
    SourceKind.BATCH: gettext_lazy("Award batch"),
    SourceKind.CASE: gettext_lazy("Verified report"),
    SourceKind.APPEAL: gettext_lazy("Appeal upheld"),
    SourceKind.CORRECTION: gettext_lazy("Correction"),
}


def _english() -> bool:
    return (translation.get_language() or "").startswith("en")


def _tier_name(tier: dict | None) -> str:
    if not tier:
        return ""
    return (tier.get("name_en") or tier["name_zh"]) if _english() else tier["name_zh"]


def _url(name: str, **kwargs) -> str | None:
    """A page of another part of the platform, or None where it is not there (not built, module off)."""
    try:
        return reverse(name, kwargs=kwargs or None)
    except NoReverseMatch:
        return None


def _module_on(request, key: str) -> bool:
    tenant = getattr(request, "tenant", None)
    return tenant is not None and tenant.has_module(key)


def _unbound(request):
    """The signed-in account is not bound to a registered resident: how to bind the household."""
    bindings = []
    if _module_on(request, "codes"):
        from modules.codes.selectors import own_bindings

        bindings = list(own_bindings(request.user).order_by("-created_at")[:3])
    return render(request, "points/resident/unbound.html", {
        "bindings": bindings, "my_data_url": _url("registry:me") if _module_on(request, "registry") else None})


def _decorate_entry(request, row: dict) -> dict:
    """Labels and links the history shows for one row of ``pages.history_page``."""
    english = _english()
    row["rule_name"] = (row["rule_name_en"] or row["rule_name_zh"]) if english else row["rule_name_zh"]
    row["source_label"] = SOURCE_LABELS.get(row["source_kind"], row["source_kind"])
    row["source_detail"], row["source_url"] = "", None
    kind = row["source_kind"]
    if kind == SourceKind.BATCH:
        row["source_detail"] = row["batch_title"]
    elif kind == SourceKind.CASE and row["source_id"]:
        row["source_detail"] = row["case_ref"] or f"#{row['source_id']}"
        if row["case_ref"] and row["case_reporter"] == request.user.pk and _module_on(request, "cases"):
            row["source_url"] = _url("cases:detail", key=row["case_ref"])  # only the reporter sees the case
    elif kind == SourceKind.APPEAL:
        row["source_url"] = _url("points:appeals")
    row["can_appeal"] = not row["appeal_blocker"]
    appeal = row["appeal"]
    row["appeal_label"] = appeal.get_status_display() if appeal is not None else ""
    return row


# --- pages ----------------------------------------------------------------------------------------------

@login_required
@require_safe
def home(request):
    """/points/: balance, tier and progress, and the history (20 a page)."""
    resident = resident_of(request.user)
    if resident is None:
        return _unbound(request)
    card = pages.overview(resident)
    history = pages.history_page(resident, page=request.GET.get("page"), total=card.entries)
    for row in history.rows:
        _decorate_entry(request, row)
    return render(request, "points/resident/home.html", {
        "resident": resident, "card": card, "page": history, "entries": history.rows,
        "tier_name": _tier_name(card.tier), "next_tier_name": _tier_name(card.next_tier),
        "benefits_url": _url("points:benefits"), "appeal_days": pages.appeal_days(),
        "open_appeals": pages.appeals_of(resident).filter(status=Appeal.Status.PENDING).count(),
    })


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def appeal(request, entry_id: int):
    """/points/entries/<id>/appeal/: why the resident disagrees → the points committee."""
    resident = resident_of(request.user)
    if resident is None:
        return _unbound(request)
    entry = pages.own_entry(resident, entry_id)
    if entry is None:
        raise Http404
    reason, error, errors, status = "", "", {}, 200
    if request.method == "POST":
        reason = request.POST.get("reason", "")
        try:
            file_appeal(actor=request.user, entry=entry, reason=reason)
        except DomainError as exc:
            error, errors, status = exc.message, exc.fields, exc.status
        else:
            messages.success(request, _("Your appeal was sent to the points committee. Their decision will "
                                        "appear here."))
            return redirect("points:appeals")
    state = pages.entry_appeal_state(entry)
    version = entry.rule_version
    return render(request, "points/resident/appeal.html", {
        "entry": entry, "rule_name": (version.name_en or version.name_zh) if _english() else version.name_zh,
        "source_label": SOURCE_LABELS.get(entry.source_kind, entry.source_kind),
        "state": state, "blocker_text": state["blocker_text"],
        "reason": reason, "error": error, "errors": errors, "reason_max": APPEAL_REASON_MAX,
    }, status=status)


@login_required
@require_safe
def appeals(request):
    """/points/appeals/: the resident's appeals, their status and the committee's reason."""
    resident = resident_of(request.user)
    if resident is None:
        return _unbound(request)
    page = Paginator(pages.appeals_of(resident), pages.PAGE_SIZE).get_page(request.GET.get("page"))
    english = _english()
    for row in page.object_list:
        version = row.entry.rule_version
        row.rule_name = (version.name_en or version.name_zh) if english else version.name_zh
    return render(request, "points/resident/appeals.html", {"page": page, "appeals": page.object_list})
