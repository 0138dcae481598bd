"""Staff pages of the committee, under /points/staff/: propose (or post) points for a resident of
one's area, and the committee's queue (approve / reject proposals, uphold / refuse appeals), with the
evidence files only the people concerned may open."""
from __future__ import annotations

import secrets

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from kernel import idempotency
from kernel.errors import DomainError
from kernel.permissions import has_role, role_required
from kernel.roles import Role
from modules.points import forms
from modules.points.committee import appeals as appeal_services
from modules.points.committee import selectors as committee_selectors
from modules.points.committee import services as proposals
from modules.points.ledger import search, selectors
from modules.points.ledger import services as ledger
from modules.points.models import (
    EVIDENCE_MAX,
    REASON_MAX,
    Entry,
    Proposal,
)
from modules.points.staff_pages import (
    DECIDERS,
    POSTERS,
    _fail,
    _pk,
    _render,
    _rule_options,
    _signed,
    _version_of,
)
from modules.registry.models import Resident

# --- propose ------------------------------------------------------------------------------------------

def _propose_context(request, *, form: dict, errors: dict | None = None, query: str | None = None) -> dict:
    user = request.user
    query = (request.GET.get("q") or "") if query is None else query
    query = query.strip()[:80]
    by_number = search.is_number_query(query)
    chosen_id = form.get("resident") or request.GET.get("resident")
    chosen = search.resident_in_reach(user, chosen_id)
    rules = selectors.rule_choices()
    mine = list(Proposal.objects.filter(proposed_by=user, kind=Proposal.Kind.SINGLE)
                .select_related("rule_version", "resident").order_by("-proposed_at", "-id")[:10])
    for p in mine:
        p.may_withdraw = proposals.withdraw_refusal(user, p) is None
    return {
        # a phone or ID number is looked up, never shown again nor put into a link
        "query": "" if by_number else query, "by_number": by_number,
        "results": search.find_residents(user, query) if query else None,
        "chosen": chosen, "rules": _rule_options(rules), "form": form, "errors": errors or {},
        "reason_max": REASON_MAX, "evidence_max": EVIDENCE_MAX, "max_mb": forms.MAX_EVIDENCE_MB,
        "mine": mine, "today": ledger.local_today().isoformat(),
    }


def _propose(request) -> str:
    """Post or propose; returns the message to show."""
    post, user = request.POST, request.user
    resident_pk = _pk(post.get("resident"))
    resident = Resident.objects.filter(pk=resident_pk).first() if resident_pk else None
    if resident is None:
        raise DomainError(_("Find and choose the resident first."), fields={"resident": [_("Choose a resident.")]})
    version = _version_of(post.get("rule"))
    if version is None:
        raise DomainError(_("Choose a rule."), fields={"rule": [_("Choose a rule.")]})
    points = forms.signed_points(post.get("points"), version)
    occurred_on = forms.day(post.get("occurred_on"))
    evidence_file = forms.evidence_file(request.FILES.get("evidence_file"))
    fields = {"actor": user, "resident": resident, "rule": version.rule.code, "points": points,
              "reason": post.get("reason", ""), "occurred_on": occurred_on, "evidence": post.get("evidence", ""),
              "evidence_file": evidence_file, "idempotency_key": post.get("idempotency_key")}
    made = proposals.post_or_propose(to_committee=post.get("to_committee") == "1", **fields)
    if isinstance(made, Proposal):
        return _("Sent to the committee: %(points)s for %(name)s under %(rule)s; it needs %(n)d approvals.") % {
            "points": _signed(made.points), "name": resident.name, "rule": version.name_zh, "n": made.quorum}
    entry = made
    balance = selectors.balances(resident).get(entry.kind, 0)
    return _("Posted %(points)s to %(name)s under %(rule)s. Balance now: %(balance)s.") % {
        "points": _signed(entry.points), "name": resident.name, "rule": version.name_zh, "balance": balance}


@role_required(*POSTERS)
@require_http_methods(["GET", "POST"])
def propose(request):
    """Find a resident of my area, choose a rule in force, the points, the date, the reason and
    evidence; post it at once (rules without the committee) or send it to the committee."""
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "withdraw":
            return _withdraw(request, back=reverse("points:propose"))
        if action == "search":  # posted, so a typed phone or ID number stays out of URLs and logs
            form = {"idempotency_key": secrets.token_urlsafe(18), "occurred_on": ledger.local_today().isoformat()}
            return _render(request, "propose.html",
                           _propose_context(request, form=form, query=request.POST.get("q", "")), tab="propose")
        form = request.POST.dict()
        try:
            done = _propose(request)
        except DomainError as exc:
            errors = _fail(request, exc)
            idempotency.refresh_form_key(form, exc)
            if exc.code in ("out_of_scope", "own_points"):
                errors.setdefault("resident", []).append(exc.message)
            return _render(request, "propose.html", _propose_context(request, form=form, errors=errors),
                           tab="propose", status=exc.status)
        messages.success(request, done)
        return redirect(reverse("points:propose"))
    form = {"idempotency_key": secrets.token_urlsafe(18), "rule": request.GET.get("rule", ""),
            "occurred_on": ledger.local_today().isoformat()}
    return _render(request, "propose.html", _propose_context(request, form=form), tab="propose")


def _withdraw(request, *, back: str):
    proposal = get_object_or_404(Proposal, pk=_pk(request.POST.get("proposal")) or 0)
    try:
        proposals.withdraw_proposal(actor=request.user, proposal=proposal)
    except DomainError as exc:
        if exc.status == 403:
            raise PermissionDenied(exc.message)
        messages.error(request, exc.message)
        return redirect(back)
    messages.success(request, _("Proposal #%(id)d withdrawn.") % {"id": proposal.pk})
    return redirect(back)


# --- committee ----------------------------------------------------------------------------------------

COMMITTEE_DONE = {
    "approve": gettext_lazy("Approved proposal #%(id)d."),
    "reject": gettext_lazy("Rejected proposal #%(id)d; the reason is kept."),
    "uphold": gettext_lazy("Upheld appeal #%(id)d."),
    "refuse": gettext_lazy("Refused appeal #%(id)d; the reason is kept."),
}


def _decide(request, action: str) -> str:
    from modules.points.models import Appeal

    post, user = request.POST, request.user
    if action in ("approve", "reject"):
        proposal = get_object_or_404(Proposal, pk=_pk(post.get("proposal")) or 0)
        if action == "approve":
            proposal = proposals.approve_proposal(actor=user, proposal=proposal, note=post.get("note", "").strip())
            proposal.refresh_from_db()
            if proposal.status == Proposal.Status.APPROVED:
                if proposal.entry_id:
                    return _("Proposal #%(id)d approved by the quorum: %(points)s posted to %(name)s.") % {
                        "id": proposal.pk, "points": _signed(proposal.points), "name": proposal.resident.name}
                return _("Proposal #%(id)d approved by the quorum: the batch starts now.") % {"id": proposal.pk}
        else:
            proposal = proposals.reject_proposal(actor=user, proposal=proposal, reason=post.get("reason", ""))
        return COMMITTEE_DONE[action] % {"id": proposal.pk}
    appeal = get_object_or_404(Appeal, pk=_pk(post.get("appeal")) or 0)
    if action == "uphold":
        appeal = appeal_services.uphold_appeal(actor=user, appeal=appeal, note=post.get("note", "").strip())
        if appeal.status == Appeal.Status.UPHELD:
            return _("Appeal #%(id)d upheld by the quorum: the entry was reversed.") % {"id": appeal.pk}
    elif action == "refuse":
        appeal = appeal_services.refuse_appeal(actor=user, appeal=appeal, reason=post.get("reason", ""))
    else:
        raise DomainError(_("Unknown action."), fields={"action": [_("Unknown.")]})
    return COMMITTEE_DONE[action] % {"id": appeal.pk}


@role_required(*DECIDERS)
@require_http_methods(["GET", "POST"])
def committee(request):
    """The committee's queue: proposals (single residents and batches) and appeals this member may
    decide, with the votes so far and the quorum; the others still pending, for information."""
    failed_kind, failed_id, item_errors, status = "", None, [], 200
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action == "withdraw":
            return _withdraw(request, back=reverse("points:committee"))
        try:
            done = _decide(request, action)
        except DomainError as exc:
            if exc.status == 404:
                raise Http404(exc.message)
            failed_kind = "appeal" if action in ("uphold", "refuse") else "proposal"
            failed_id = _pk(request.POST.get(failed_kind))
            item_errors = [exc.message, *[m for ms in (exc.fields or {}).values() for m in ms]]
            messages.error(request, exc.message)
            status = exc.status
        else:
            messages.success(request, done)
            return redirect(reverse("points:committee"))
    queue = committee_selectors.committee_queue(request.user)
    return _render(request, "committee.html", {
        **queue, "failed_kind": failed_kind, "failed_id": failed_id, "item_errors": item_errors,
        "is_member": has_role(request.user, Role.COMMITTEE_MEMBER),
    }, tab="committee", status=status)


def _may_see_evidence(user, *, poster_id: int | None) -> bool:
    return has_role(user, *DECIDERS) or (poster_id is not None and poster_id == user.pk)


def _serve(field, name: str):
    if not field:
        raise Http404
    ext = field.name.rsplit(".", 1)[-1].lower()
    types = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp",
             "pdf": "application/pdf"}
    response = FileResponse(field.open("rb"), content_type=types.get(ext, "application/octet-stream"))
    response["Content-Disposition"] = content_disposition_header(False, f"{name}.{ext}")
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@role_required(*POSTERS)
@require_GET
def evidence(request, kind: str, pk: int):
    """The evidence file of a proposal or an entry: for the committee, the administrator and who
    proposed or posted it (never a public address)."""
    if kind == "proposal":
        row = get_object_or_404(Proposal, pk=pk)
        poster = row.proposed_by_id
    else:
        row = get_object_or_404(Entry, pk=pk)
        poster = row.posted_by_id
    if not _may_see_evidence(request.user, poster_id=poster):
        raise PermissionDenied
    return _serve(row.evidence_file, f"evidence-{kind}-{pk}")
