"""Staff pages of the points module, mounted at /points/staff/: propose (or post) points for a resident
of one's area, the committee's queue (approve / reject proposals, uphold / refuse appeals), award
batches (from an uploaded list of ID numbers or a place, with a progress bar that polls a small JSON
endpoint) and the rulebook editor (district administrator: new rules, new versions, history).

Thin, like every page of the portal: parse the form, call ``services`` / ``batches`` (writes) or
``selectors`` / ``selectors_staff`` (reads), render. A refused write comes back as the form with the
service's message and per-field errors, with the service's status (400/403/409); nothing is saved.
Full ID and phone numbers are never shown: residents appear with a masked phone and their address."""
from __future__ import annotations

import csv
import io
import secrets

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_http_methods

from kernel import idempotency
from kernel.errors import DomainError
from kernel.permissions import has_role, role_required
from kernel.roles import Role
from modules.points import batch_files, batches, forms_staff, selectors, selectors_staff, services
from modules.points.models import (
    EVIDENCE_MAX,
    REASON_MAX,
    AutoSource,
    BalanceKind,
    Batch,
    CapPeriod,
    Direction,
    Entry,
    Origin,
    Proposal,
    Rule,
    RuleVersion,
)
from modules.registry.models import Resident

POSTERS = services.POSTER_ROLES
DECIDERS = (Role.COMMITTEE_MEMBER, Role.DISTRICT_ADMIN)
EDITORS = services.RULE_EDITORS
PAGE_SIZE = 20
FORM_TOKENS = "points_staff_tokens"  # session: form token -> what it made (a second submit goes there)
ACTIVE = (Batch.Status.QUEUED, Batch.Status.RUNNING)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --- helpers ------------------------------------------------------------------------------------------

def _tabs(user, on: str) -> list[dict]:
    tabs = [("propose", "points:propose", _("Propose points"), POSTERS),
            ("committee", "points:committee", _("Committee"), DECIDERS),
            ("batches", "points:batches", _("Award batches"), POSTERS),
            ("rules", "points:rules", _("Rulebook"), EDITORS)]
    return [{"key": k, "url": reverse(name), "label": label, "on": k == on}
            for k, name, label, roles in tabs if has_role(user, *roles)]


def _render(request, template: str, ctx: dict, *, tab: str, status: int = 200):
    ctx = {"tabs": _tabs(request.user, tab), "tab": tab, **ctx}
    return render(request, f"points/staff/{template}", ctx, status=status)


def _fail(request, exc: DomainError) -> dict:
    """Show the service's message; return its per-field errors for the form."""
    if exc.status == 404:
        raise Http404(exc.message)
    messages.error(request, exc.message)
    return {k: list(v) for k, v in (exc.fields or {}).items()}


def _pk(raw) -> int | None:
    text = str(raw or "").strip()
    return int(text) if text.isdigit() and len(text) <= 18 else None


def _session_key(token: str) -> str | None:
    """A form's token as the session keeps it: whole, hashed (kernel.idempotency; 400 over the limit)."""
    token = idempotency.clean_key(token)
    return idempotency.stored_key("points.staff-form", token) if token else None


def _remember_token(request, token: str, target: str) -> None:
    key = _session_key(token)
    if key:
        tokens = dict(request.session.get(FORM_TOKENS, {}))
        tokens[key] = target
        request.session[FORM_TOKENS] = dict(list(tokens.items())[-20:])


def _used_token(request, token: str) -> str | None:
    key = _session_key(token)
    return request.session.get(FORM_TOKENS, {}).get(key) if key else None


def _signed(points: int) -> str:
    return f"{points:+d}"


def _version_of(code: str) -> RuleVersion | None:
    code = (code or "").strip()
    if not code:
        return None
    return services.current_version(code)


# --- propose ------------------------------------------------------------------------------------------

def _rule_options(rules: list[RuleVersion]) -> list[dict]:
    out = []
    for v in rules:
        cap = ""
        if v.cap_period:
            parts = []
            if v.cap_count:
                parts.append(ngettext("%(n)d time", "%(n)d times", v.cap_count) % {"n": v.cap_count})
            if v.cap_points:
                parts.append(ngettext("%(n)d point", "%(n)d points", v.cap_points) % {"n": v.cap_points})
            cap = f"{' / '.join(parts)} {CapPeriod(v.cap_period).label}"
        out.append({"v": v, "code": v.rule.code, "sign": "+" if v.direction == Direction.ADD else "−", "cap": cap})
    return out


def _propose_context(request, *, form: dict, errors: dict | None = None, query: str | None = None) -> dict:
    user = request.user
    query = (request.GET.get("q") or "") if query is None else query
    query = query.strip()[:80]
    by_number = selectors_staff.is_number_query(query)
    chosen_id = form.get("resident") or request.GET.get("resident")
    chosen = selectors_staff.resident_in_reach(user, chosen_id)
    rules = selectors_staff.rule_choices()
    mine = (Proposal.objects.filter(proposed_by=user, kind=Proposal.Kind.SINGLE)
            .select_related("rule_version", "resident").order_by("-proposed_at", "-id")[:10])
    return {
        # a phone or ID number is looked up, never shown again nor put into a link
        "query": "" if by_number else query, "by_number": by_number,
        "results": selectors_staff.find_residents(user, query) if query else None,
        "chosen": chosen, "rules": _rule_options(rules), "form": form, "errors": errors or {},
        "reason_max": REASON_MAX, "evidence_max": EVIDENCE_MAX, "max_mb": forms_staff.MAX_EVIDENCE_MB,
        "mine": mine, "today": services.local_today().isoformat(),
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
    points = forms_staff.signed_points(post.get("points"), version)
    occurred_on = forms_staff.day(post.get("occurred_on"))
    evidence_file = forms_staff.evidence_file(request.FILES.get("evidence_file"))
    fields = {"actor": user, "resident": resident, "rule": version.rule.code, "points": points,
              "reason": post.get("reason", ""), "occurred_on": occurred_on, "evidence": post.get("evidence", ""),
              "evidence_file": evidence_file, "idempotency_key": post.get("idempotency_key")}
    made = services.post_or_propose(to_committee=post.get("to_committee") == "1", **fields)
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
            form = {"idempotency_key": secrets.token_urlsafe(18), "occurred_on": services.local_today().isoformat()}
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
            "occurred_on": services.local_today().isoformat()}
    return _render(request, "propose.html", _propose_context(request, form=form), tab="propose")


def _withdraw(request, *, back: str):
    proposal = get_object_or_404(Proposal, pk=_pk(request.POST.get("proposal")) or 0)
    try:
        services.withdraw_proposal(actor=request.user, proposal=proposal)
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
            proposal = services.approve_proposal(actor=user, proposal=proposal, note=post.get("note", "").strip())
            proposal.refresh_from_db()
            if proposal.status == Proposal.Status.APPROVED:
                if proposal.entry_id:
                    return _("Proposal #%(id)d approved by the quorum: %(points)s posted to %(name)s.") % {
                        "id": proposal.pk, "points": _signed(proposal.points), "name": proposal.resident.name}
                return _("Proposal #%(id)d approved by the quorum: the batch starts now.") % {"id": proposal.pk}
        else:
            proposal = services.reject_proposal(actor=user, proposal=proposal, reason=post.get("reason", ""))
        return COMMITTEE_DONE[action] % {"id": proposal.pk}
    appeal = get_object_or_404(Appeal, pk=_pk(post.get("appeal")) or 0)
    if action == "uphold":
        appeal = services.uphold_appeal(actor=user, appeal=appeal, note=post.get("note", "").strip())
        if appeal.status == Appeal.Status.UPHELD:
            return _("Appeal #%(id)d upheld by the quorum: the entry was reversed.") % {"id": appeal.pk}
    elif action == "refuse":
        appeal = services.refuse_appeal(actor=user, appeal=appeal, reason=post.get("reason", ""))
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
    queue = selectors_staff.committee_queue(request.user)
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


# --- batches ------------------------------------------------------------------------------------------

def _batch_form_defaults() -> dict:
    return {"idempotency_key": secrets.token_urlsafe(18), "targets": "file",
            "occurred_on": services.local_today().isoformat()}


def _batches_context(request, *, form: dict, errors: dict | None = None, row_errors=None) -> dict:
    page = Paginator(selectors_staff.batches_for(request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    for b in page.object_list:
        b.progress = _progress(b)
        b.poll_url = reverse("points:staff-batch-progress", kwargs={"pk": b.pk})
    return {"page": page, "batches": page.object_list, "form": form, "errors": errors or {},
            "place_code": form.get(f"place_{form.get('place_kind', '')}", ""),
            "row_errors": row_errors or [], "rules": _rule_options(selectors_staff.rule_choices()),
            "places": selectors_staff.place_choices(), "reason_max": REASON_MAX, "evidence_max": EVIDENCE_MAX,
            "max_mb": batch_files.MAX_BYTES // 2**20, "needs_committee": services.config().get(
                "batch_needs_committee", True), "active": [str(s) for s in ACTIVE]}


def _create_batch(request) -> Batch:
    post, user = request.POST, request.user
    version = _version_of(post.get("rule"))
    if version is None:
        raise DomainError(_("Choose a rule."), fields={"rule": [_("Choose a rule.")]})
    points = forms_staff.signed_points(post.get("points"), version)
    common = {"actor": user, "rule": version.rule.code, "points": points, "reason": post.get("reason", ""),
              "title": post.get("title", ""), "occurred_on": forms_staff.day(post.get("occurred_on")),
              "evidence": post.get("evidence", "")}
    # the rule, points, date and reason first: a wrong form says so before the list is read
    services.check_posting(version=version, points=points,
                           occurred_on=common["occurred_on"] or services.local_today(), evidence=common["evidence"])
    targets = post.get("targets")
    if targets == "place":
        kind, code = post.get("place_kind", ""), (post.get(f"place_{post.get('place_kind', '')}") or "").strip()
        return batches.create_batch(**common, place={"kind": kind, "code": code})
    if targets == "file":
        return batches.create_batch(**common, id_numbers=forms_staff.read_id_numbers(request.FILES.get("file")))
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
    return get_object_or_404(selectors_staff.batches_for(request.user), pk=pk)


def _progress(batch: Batch) -> dict:
    data = selectors.batch_progress(batch)
    data["status_label"] = str(Batch.Status(batch.status).label)
    data["active"] = batch.status in ACTIVE
    data["error"] = batch.error if batch.status in (Batch.Status.FAILED, Batch.Status.REJECTED) else ""
    return data


def _target_label(batch: Batch) -> str:
    params = batch.target_params or {}
    if batch.target_source == "place":
        kind = {"street": _("street"), "community": _("community"), "grid": _("grid"),
                "compound": _("compound")}.get(params.get("kind"), params.get("kind", ""))
        name = selectors_staff.place_name(params.get("kind", ""), params.get("code", ""))
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
                services.withdraw_proposal(actor=request.user, proposal=batch.proposal)
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
        selectors_staff.decorate_votes([proposal])
    return _render(request, "batch.html", {
        "batch": batch, "progress": _progress(batch), "proposal": proposal, "target_label": _target_label(batch),
        "may_retry": batch.status == Batch.Status.FAILED and (
            batch.created_by_id == request.user.pk or has_role(request.user, Role.DISTRICT_ADMIN)),
        "may_withdraw": proposal is not None and proposal.status == Proposal.Status.PENDING and (
            proposal.proposed_by_id == request.user.pk or has_role(request.user, Role.DISTRICT_ADMIN)),
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
    for row in (selectors_staff.not_posted_rows(batch) if batch.status == Batch.Status.DONE else []):
        w.writerow(["", row["name"], row["address"]])
    response = HttpResponse(out.getvalue().encode("utf-8"), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, f"积分批次-{batch.pk}.csv")
    response["Cache-Control"] = "private, no-store"
    return response


@role_required(*POSTERS)
@require_GET
def batch_template(request):
    response = HttpResponse(forms_staff.id_list_template(), content_type=XLSX)
    response["Content-Disposition"] = content_disposition_header(True, "积分批次名单模板.xlsx")
    response["Cache-Control"] = "private, no-store"
    return response


# --- rulebook -----------------------------------------------------------------------------------------

def _rule_fields(values: dict, errors: dict) -> dict:
    """The rule form's fields: label, input kind, value as text, choices and the service's errors."""
    material = bool(services.config().get("material_points")) or values.get("kind") == BalanceKind.MATERIAL
    kinds = BalanceKind.choices if material else [c for c in BalanceKind.choices if c[0] == BalanceKind.CIVIC]
    spec = [
        ("name_zh", _("Name (Chinese)"), "text", {"max": 80, "required": True}),
        ("name_en", _("Name (English)"), "text", {"max": 120}),
        ("description", _("Description"), "textarea", {}),
        ("direction", _("Direction"), "select", {"choices": Direction.choices}),
        ("category", _("Category code"), "text", {"max": 40, "required": True}),
        ("min_points", _("Minimum points"), "number", {"required": True}),
        ("max_points", _("Maximum points"), "number", {"required": True}),
        ("default_points", _("Default points"), "number", {}),
        ("kind", _("Balance"), "select", {"choices": kinds}),
        ("cap_count", _("Cap: postings per person"), "number", {}),
        ("cap_points", _("Cap: points per person"), "number", {}),
        ("cap_period", _("Cap period"), "select", {"choices": [("", "—"), *CapPeriod.choices]}),
        ("effective_from", _("In force from"), "date", {}),
        ("effective_to", _("In force until (last day)"), "date", {}),
        ("origin", _("Source"), "select", {"choices": Origin.choices}),
        ("auto_source", _("Applied automatically"), "select", {"choices": AutoSource.choices}),
        ("origin_note", _("Source note"), "text", {"max": 300}),
        ("auto_categories", _("Case categories (automatic rules; empty: all)"), "text",
         {"hint": _("comma-separated codes")}),
    ]
    out = {}
    for name, label, kind, extra in spec:
        value = values.get(name)
        if isinstance(value, list | tuple):
            value = ", ".join(str(v) for v in value)
        out[name] = {"name": name, "label": label, "kind": kind, "value": "" if value is None else str(value),
                     "errors": errors.get(name, []), **extra}
    return out


@role_required(*EDITORS)
@require_GET
def rules(request):
    """The rulebook: rules in force today (or all), with their version and where they come from."""
    include_all = request.GET.get("all") == "1"
    rows = selectors_staff.rulebook(include_all=include_all)
    return _render(request, "rules.html", {
        "rows": rows, "include_all": include_all,
        "adds": sum(1 for v in rows if v.direction == Direction.ADD),
        "deducts": sum(1 for v in rows if v.direction == Direction.DEDUCT),
    }, tab="rules")


@role_required(*EDITORS)
@require_http_methods(["POST"])
def rule_template(request):
    """Copy the Kangbashi rulebook into this district (rules already here are kept as they are)."""
    added = services.copy_template(actor=request.user, template="kangbashi")
    if added:
        messages.success(request, _("%(n)d rules copied from the Kangbashi rulebook; edit them as you need.")
                         % {"n": added})
    else:
        messages.info(request, _("Every rule of the Kangbashi rulebook is already here."))
    return redirect(reverse("points:rules"))


@role_required(*EDITORS)
@require_http_methods(["GET", "POST"])
def rule_new(request):
    values, errors, status = forms_staff.rule_form_values(None), {}, 200
    if request.method == "POST":
        values = {**forms_staff.rule_fields(request.POST), "code": request.POST.get("code", ""),
                  "note": request.POST.get("note", "")}
        try:
            fields = forms_staff.rule_fields(request.POST)
            version = services.create_rule(actor=request.user, code=request.POST.get("code", ""),
                                           note=request.POST.get("note", "").strip(), **fields)
        except DomainError as exc:
            if exc.status == 403:
                raise PermissionDenied(exc.message)
            errors, status = _fail(request, exc), exc.status
        else:
            messages.success(request, _("Rule %(code)s created (version 1).") % {"code": version.rule.code})
            return redirect(reverse("points:staff-rule", kwargs={"code": version.rule.code}))
    return _render(request, "rule_form.html", {"values": values, "errors": errors, "new": True,
                                               "fields": _rule_fields(values, errors)}, tab="rules", status=status)


@role_required(*EDITORS)
@require_http_methods(["GET", "POST"])
def rule_detail(request, code: str):
    """A rule: its current version as a form (saving makes a new version; entries keep theirs) and
    every earlier version."""
    rule = get_object_or_404(Rule, code=code)
    current = services.current_version(rule)
    values, errors, status = forms_staff.rule_form_values(current), {}, 200
    if request.method == "POST":
        fields = forms_staff.rule_fields(request.POST)
        values = {**fields, "note": request.POST.get("note", "")}
        try:
            version = services.revise_rule(actor=request.user, rule=rule, note=request.POST.get("note", "").strip(),
                                           **fields)
        except DomainError as exc:
            if exc.status == 403:
                raise PermissionDenied(exc.message)
            errors, status = _fail(request, exc), exc.status
        else:
            if version.pk == current.pk:
                messages.info(request, _("Nothing changed; the rule stays at version %(v)d.") % {"v": version.version})
            else:
                messages.success(request, _("Saved %(code)s as version %(v)d; entries already posted keep the "
                                            "version they were posted under.") % {"code": code, "v": version.version})
            return redirect(reverse("points:staff-rule", kwargs={"code": code}))
    history = list(selectors.rule_history(code).select_related("created_by"))
    return _render(request, "rule_form.html", {
        "values": values, "errors": errors, "new": False, "rule": rule, "current": current, "history": history,
        "fields": _rule_fields(values, errors)}, tab="rules", status=status)
