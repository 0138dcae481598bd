"""Staff pages of award batches, under /points/staff/batches/: make a batch (an uploaded list of ID
numbers or a place), follow its progress (a bar that polls a small JSON endpoint), retry or withdraw
it, download its report and the list template."""
from __future__ import annotations

import csv
import io
import secrets

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods

from kernel import idempotency
from kernel.errors import DomainError
from kernel.permissions import role_required
from modules.points import forms
from modules.points.batches import files as batch_files
from modules.points.batches import selectors as batch_selectors
from modules.points.batches import services as batches
from modules.points.committee import selectors as committee_selectors
from modules.points.committee import services as proposals
from modules.points.ledger import selectors
from modules.points.ledger import services as ledger
from modules.points.models import (
    EVIDENCE_MAX,
    REASON_MAX,
    Batch,
    Proposal,
)
from modules.points.staff_pages import (
    ACTIVE,
    PAGE_SIZE,
    POSTERS,
    XLSX,
    _fail,
    _remember_token,
    _render,
    _rule_options,
    _signed,
    _used_token,
    _version_of,
)

# --- batches ------------------------------------------------------------------------------------------

def _batch_form_defaults() -> dict:
    return {"idempotency_key": secrets.token_urlsafe(18), "targets": "file",
            "occurred_on": ledger.local_today().isoformat()}


def _place_kinds(places: dict) -> list[tuple[str, str, list]]:
    """(kind, its label, its (code, name) rows) for the form's two place selects."""
    labels = {"street": _("Street"), "community": _("Community"), "grid": _("Grid"), "compound": _("Compound")}
    return [(kind, labels.get(kind, kind), rows) for kind, rows in places.items()]


def _batches_context(request, *, form: dict, errors: dict | None = None, row_errors=None) -> dict:
    page = Paginator(batch_selectors.batches_for(request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    for b in page.object_list:
        b.progress = _progress(b)
        b.poll_url = reverse("points:staff-batch-progress", kwargs={"pk": b.pk})
    return {"page": page, "batches": page.object_list, "form": form, "errors": errors or {},
            "place_code": form.get(f"place_{form.get('place_kind', '')}", ""),
            "row_errors": row_errors or [], "rules": _rule_options(selectors.rule_choices()),
            "places": _place_kinds(batch_selectors.place_choices()),
            "reason_max": REASON_MAX, "evidence_max": EVIDENCE_MAX,
            "max_mb": batch_files.MAX_BYTES // 2**20, "needs_committee": ledger.config().get(
                "batch_needs_committee", True), "active": [str(s) for s in ACTIVE]}


def _create_batch(request) -> Batch:
    post, user = request.POST, request.user
    version = _version_of(post.get("rule"))
    if version is None:
        raise DomainError(_("Choose a rule."), fields={"rule": [_("Choose a rule.")]})
    points = forms.signed_points(post.get("points"), version)
    common = {"actor": user, "rule": version.rule.code, "points": points, "reason": post.get("reason", ""),
              "title": post.get("title", ""), "occurred_on": forms.day(post.get("occurred_on")),
              "evidence": post.get("evidence", "")}
    # the rule, points, date and reason first: a wrong form says so before the list is read
    ledger.check_posting(version=version, points=points,
                           occurred_on=common["occurred_on"] or ledger.local_today(), evidence=common["evidence"])
    targets = post.get("targets")
    if targets == "place":
        kind, code = post.get("place_kind", ""), (post.get(f"place_{post.get('place_kind', '')}") or "").strip()
        return batches.create_batch(**common, place={"kind": kind, "code": code})
    if targets == "file":
        return batches.create_batch(**common, id_numbers=forms.read_id_numbers(request.FILES.get("file")))
    raise DomainError(_("Choose who gets the points: an uploaded list or a place."),
                      fields={"targets": [_("Choose one.")]})


@role_required(*POSTERS)
@require_http_methods(["GET", "POST"])
def batch_list(request):
    """Batches with their status and progress; a form to make a new one."""
    if request.method == "POST":
        form = request.POST.dict()
        try:
            done = _used_token(request, form.get("idempotency_key", ""))
            if done:  # the same form sent twice: show the batch it made
                return redirect(done)
            batch = _create_batch(request)
        except DomainError as exc:
            errors = _fail(request, exc)
            idempotency.refresh_form_key(form, exc)
            rows = [m for k, ms in errors.items() if k.startswith("row ") for m in ms]
            if rows:
                errors.setdefault("file", []).append(_("Nothing was created."))
            return _render(request, "batches.html", _batches_context(request, form=form, errors=errors,
                                                                     row_errors=rows),
                           tab="batches", status=exc.status)
        url = reverse("points:staff-batch", kwargs={"pk": batch.pk})
        _remember_token(request, form.get("idempotency_key", ""), url)
        text = ngettext("Batch #%(id)d made for %(n)d resident.", "Batch #%(id)d made for %(n)d residents.",
                        batch.target_count) % {"id": batch.pk, "n": batch.target_count}
        if batch.unknown_count:
            text += " " + ngettext("%(n)d listed person was not found in the registry.",
                                   "%(n)d listed people were not found in the registry.",
                                   batch.unknown_count) % {"n": batch.unknown_count}
        if batch.status == Batch.Status.AWAITING:
            text += " " + _("It now waits for the committee.")
        messages.success(request, text)
        return redirect(url)
    return _render(request, "batches.html", _batches_context(request, form=_batch_form_defaults()), tab="batches")


def _batch_of(request, pk: int) -> Batch:
    if pk > 2**62:
        raise Http404
    return get_object_or_404(batch_selectors.batches_for(request.user), pk=pk)


def _progress(batch: Batch) -> dict:
    data = batch_selectors.batch_progress(batch)
    data["status_label"] = str(Batch.Status(batch.status).label)
    data["active"] = batch.status in ACTIVE
    data["error"] = batch.error if batch.status in (Batch.Status.FAILED, Batch.Status.REJECTED) else ""
    return data


def _target_label(batch: Batch) -> str:
    params = batch.target_params or {}
    if batch.target_source == "place":
        kind = {"street": _("street"), "community": _("community"), "grid": _("grid"),
                "compound": _("compound")}.get(params.get("kind"), params.get("kind", ""))
        name = batch_selectors.place_name(params.get("kind", ""), params.get("code", ""))
        return _("Everyone living in %(kind)s %(name)s") % {"kind": kind, "name": name or params.get("code", "")}
    if batch.target_source == "id_numbers":
        return ngettext("An uploaded list of %(n)d ID number", "An uploaded list of %(n)d ID numbers",
                        params.get("listed", 0)) % {"n": params.get("listed", 0)}
    if batch.target_source == "residents":
        return _("A list of residents")
    return batch.target_source


@role_required(*POSTERS)
@require_http_methods(["GET", "POST"])
def batch_detail(request, pk: int):
    """One batch: what it awards to whom, the committee's decision, progress, counts, the error of a
    failed run with a button to continue it, and the report to download."""
    batch = _batch_of(request, pk)
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "retry":
                batches.retry_batch(actor=request.user, batch=batch)
                messages.success(request, _("Batch #%(id)d started again; it continues where it stopped.")
                                 % {"id": batch.pk})
            elif action == "withdraw" and hasattr(batch, "proposal"):
                proposals.withdraw_proposal(actor=request.user, proposal=batch.proposal)
                messages.success(request, _("Batch #%(id)d withdrawn.") % {"id": batch.pk})
            else:
                raise DomainError(_("Unknown action."), fields={"action": [_("Unknown.")]})
        except DomainError as exc:
            if exc.status == 403:
                raise PermissionDenied(exc.message)
            messages.error(request, exc.message)
        return redirect(reverse("points:staff-batch", kwargs={"pk": batch.pk}))
    proposal = Proposal.objects.filter(batch=batch).prefetch_related("votes__member").first()
    if proposal:
        committee_selectors.decorate_votes([proposal])
    return _render(request, "batch.html", {
        "batch": batch, "progress": _progress(batch), "proposal": proposal, "target_label": _target_label(batch),
        "may_retry": batch_selectors.retry_refusal(request.user, batch) is None,
        "may_withdraw": proposal is not None and proposals.withdraw_refusal(request.user, proposal) is None,
        "active": [str(s) for s in ACTIVE],
    }, tab="batches")


@role_required(*POSTERS)
@require_GET
def batch_progress(request, pk: int):
    """Polled every 2 s by the batch pages while a batch is queued or running."""
    response = JsonResponse(_progress(_batch_of(request, pk)))
    response["Cache-Control"] = "no-store"
    return response


@role_required(*POSTERS)
@require_GET
def batch_report(request, pk: int):
    """CSV: the batch's counts (listed, found, listed but not found, posted, over the cap) and the
    residents who got nothing (over the rule's cap): name and address only, never a personal number.
    The ID numbers of a list are not kept, so those not found are a count."""
    batch = _batch_of(request, pk)
    out = io.StringIO()
    out.write("\ufeff")  # Excel opens UTF-8 with a BOM
    w = csv.writer(out)
    w.writerow([_("Batch"), batch.pk, batch.title])
    w.writerow([_("Rule"), f"{batch.rule_version.name_zh} ({batch.rule_version.rule.code} v{batch.rule_version.version})"])
    w.writerow([_("Points per resident"), _signed(batch.points)])
    w.writerow([_("Status"), Batch.Status(batch.status).label])
    if batch.target_source == "id_numbers":
        w.writerow([_("Listed"), (batch.target_params or {}).get("listed", "")])
    w.writerow([_("Found in the registry"), batch.target_count])
    w.writerow([_("Listed but not found"), batch.unknown_count])
    w.writerow([_("Posted"), batch.posted_count])
    w.writerow([_("Not posted (over the rule's cap)"), batch.skipped_count])
    w.writerow([])
    w.writerow([_("Residents not posted"), _("Name"), _("Address")])
    for row in (batch_selectors.not_posted_rows(batch) if batch.status == Batch.Status.DONE else []):
        w.writerow(["", row["name"], row["address"]])
    response = HttpResponse(out.getvalue().encode("utf-8"), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, f"积分批次-{batch.pk}.csv")
    response["Cache-Control"] = "private, no-store"
    return response


@role_required(*POSTERS)
@require_GET
def batch_template(request):
    response = HttpResponse(forms.id_list_template(), content_type=XLSX)
    response["Content-Disposition"] = content_disposition_header(True, "积分批次名单模板.xlsx")
    response["Cache-Control"] = "private, no-store"
    return response
