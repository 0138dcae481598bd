"""Staff pages of ratings.integrity, under /ratings/staff/: the queue of held ratings with their reasons
(``ratings:held``) and one held rating with what surrounds it and the release / reject forms
(``ratings:held-detail``). Thin: parse, call a selector or ``services.decide``, render; a refused
decision comes back as the form with the service's message and status, nothing saved."""
from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from kernel.errors import DomainError
from kernel.permissions import role_required
from modules.ratings.config import dimensions
from modules.ratings.integrity import selectors, services
from modules.ratings.integrity.checks import RULES, rule_name
from modules.ratings.ledger.models import Channel, Level, Rating, State, SubjectKind

PAGE_SIZE = 20
KINDS = (SubjectKind.OFFICIAL, SubjectKind.MERCHANT)


def _card(rating: Rating) -> dict:
    return {"r": rating, "subject": selectors.subject_name(rating), "reasons": selectors.reasons_of(rating),
            "level": Level(rating.level).label, "kind": SubjectKind(rating.subject_kind).label,
            "channel": Channel(rating.channel).label if rating.channel in Channel.values else rating.channel,
            "state": State(rating.state).label}


@role_required(*services.REVIEW_ROLES)
@require_GET
def held(request):
    rule = request.GET.get("rule", "")
    rule = rule if rule in RULES else ""
    kind = request.GET.get("kind", "")
    kind = kind if kind in KINDS else ""
    unit = request.GET.get("unit", "").strip()[:40]
    qs = selectors.held_queue(request.user, rule=rule or None, subject_kind=kind or None, unit=unit or None)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    counts = selectors.queue_counts(request.user)
    return render(request, "ratings/integrity/held.html", {
        "page": page, "cards": [_card(r) for r in page], "rule": rule, "kind": kind, "unit": unit,
        "rules": [{"key": k, "name": rule_name(k), "n": counts[k]} for k in RULES],
        "kinds": [{"key": k.value, "name": k.label} for k in KINDS],
        "total": page.paginator.count,
    })


def _scores(rating: Rating) -> list[dict]:
    english = (get_language() or "").startswith("en")
    names = {d["key"]: (d.get("name_en") if english and d.get("name_en") else d["name_zh"])
             for d in dimensions(rating.subject_kind)}
    return [{"name": names.get(k, k), "level": Level(int(v)).label if int(v) in Level.values else v}
            for k, v in sorted((rating.scores or {}).items())]


@role_required(*services.REVIEW_ROLES)
@require_http_methods(["GET", "POST"])
def held_detail(request, pk: int):
    rating = get_object_or_404(Rating.objects.select_related(
        "official__department", "merchant", "department", "grid", "decided_by",
        "rater_household__building__compound").exclude(hold_reasons=[]), pk=pk)
    if not services.may_review(request.user, rating):
        raise PermissionDenied(_("You may not review this rating."))
    form, errors, status = {}, {}, 200
    if request.method == "POST":
        decision = request.POST.get("action", "")
        note = request.POST.get("note", "")
        try:
            services.decide(actor=request.user, rating=rating, decision=decision, note=note)
        except DomainError as exc:
            if exc.status == 403:
                raise PermissionDenied(exc.message) from exc
            messages.error(request, exc.message)
            errors = {k: list(v) for k, v in (exc.fields or {}).items()}
            form, status = {"action": decision, "note": note}, exc.status
            rating.refresh_from_db()
        else:
            done = _("Rating #%(id)d now counts.") if decision == "release" else _("Rating #%(id)d will not count.")
            messages.success(request, done % {"id": rating.pk})
            return redirect(reverse("ratings:held"))
    context = selectors.held_context(rating)
    match_names = {"household": _("same household"), "device": _("same device"), "network": _("same network")}
    for other in context["same_source"]:
        other["level_label"] = Level(other["level"]).label
        other["state_label"] = State(other["state"]).label
        other["match_labels"] = [match_names[m] for m in other["matches"]]
    context["history"]["recent_labels"] = [str(level) for level in context["history"]["recent"]]
    return render(request, "ratings/integrity/held_detail.html", {
        "c": _card(rating), "scores": _scores(rating), "context": context, "form": form, "errors": errors,
        "rater": {"account": _("signed-in account"), "phone": _("verified phone"), "case": _("case reporter")}.get(
            selectors.rater_kind(rating), _("other")),
        "may_decide": rating.state in (State.HELD, State.REJECTED),
        "note_max": services.NOTE_MAX,
    }, status=status)
