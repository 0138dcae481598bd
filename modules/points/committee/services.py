"""Writes of the points committee: proposals for one resident (maker–checker, a quorum), their
approval, rejection and withdrawal; ``post_or_propose`` is staff's one form for a deed and the path
of the automatic awards (``ledger.reports``)."""
from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kernel import audit, idempotency
from kernel.errors import Conflict, DomainError, NotAllowed
from kernel.permissions import has_role
from kernel.roles import Role
from modules.points.committee.models import Proposal, Vote
from modules.points.ledger.models import EVIDENCE_MAX, REASON_MAX, Entry, SourceKind
from modules.points.ledger.services import (
    Automatic,
    _keys,
    _occurred,
    _post,
    _request_fingerprint,
    _text,
    _user,
    check_posting,
    config,
    covers_resident,
    current_version,
    notify_after_commit,
    post_entry,
    require_poster_or_rule,
)
from modules.registry.models import Resident


def _require_committee(user, *, resident: Resident | None = None) -> None:
    if not _user(user) or not has_role(user, Role.COMMITTEE_MEMBER):
        raise NotAllowed(_("Only members of the points committee decide this."), code="not_committee")
    if resident is not None and not covers_resident(user, resident, (Role.COMMITTEE_MEMBER,)):
        raise NotAllowed(_("This resident is outside your committee's area."), code="out_of_scope")


def post_or_propose(*, to_committee: bool = False, **fields) -> Entry | Proposal:
    """Staff's one form for a deed, and the platform's for an automatic rule (``automatic``): a rule
    that needs the committee (or a poster who wants its eyes on it) makes a proposal; any other is
    posted at once. ``fields`` are ``post_entry``'s."""
    if to_committee or current_version(fields["rule"]).committee_required:
        return propose(**fields)
    return post_entry(**fields)


# --- committee: proposals -----------------------------------------------------------------------------

def propose(*, actor, resident: Resident, rule, points: int, reason: str, occurred_on=None, evidence: str = "",
            evidence_file=None, idempotency_key: str | None = None, automatic: Automatic | None = None) -> Proposal:
    """Put an award or deduction for one resident to the points committee (any rule; the platform's
    automatic rules too, with ``automatic``). The rule's checks apply now: sign, range, dates,
    evidence, and its caps as far as the resident's posted entries already reach them (the approval
    checks the caps again, under the balance lock)."""
    version = current_version(rule)
    require_poster_or_rule(actor, resident, version, automatic, _("propose points"))
    reason = _text(reason, "reason", REASON_MAX, required=True, message=_("Say why (the reason)."))
    evidence = _text(evidence, "evidence", EVIDENCE_MAX)
    day = _occurred(occurred_on)
    keys = [automatic.key] if automatic else _keys("points.proposal", "proposal:", idempotency_key)
    fingerprint = _request_fingerprint(actor=actor, resident=resident, rule=rule, points=points, reason=reason,
                                       occurred_on=occurred_on, evidence=evidence) if keys and not automatic else None
    with transaction.atomic():
        if keys:
            existing = Proposal.objects.filter(idempotency_key__in=keys).first()
            if existing is not None:
                return _same_proposal(existing, fingerprint)
        check_posting(version=version, points=points, occurred_on=day, evidence=evidence,
                      has_file=bool(evidence_file), resident_id=resident.pk)
        proposal = Proposal(kind=Proposal.Kind.SINGLE, rule_id=version.rule_id, rule_version=version,
                            resident=resident, points=points, occurred_on=day, reason=reason, evidence=evidence,
                            quorum=int(config()["committee_quorum"]), proposed_by=_user(actor),
                            idempotency_key=keys[0] if keys else None, idempotency_fingerprint=fingerprint)
        if automatic:
            proposal.source_kind, proposal.source_id = automatic.source_kind, automatic.source_id
        if evidence_file:
            proposal.evidence_file = evidence_file
        try:
            with transaction.atomic():
                proposal.save()
        except IntegrityError:  # a concurrent twin with the same key committed first
            existing = Proposal.objects.filter(idempotency_key__in=keys).first() if keys else None
            if existing is None:
                raise
            return _same_proposal(existing, fingerprint)
        audit.record(actor=actor, action="points.propose", target=proposal,
                     after={"resident": resident.pk, "rule": version.rule.code, "points": points,
                            **({"source": f"{automatic.source_kind}:{automatic.source_id}"} if automatic else {})})
    return idempotency.mark(proposal, created=True)


def _same_proposal(existing: Proposal, fingerprint: str | None) -> Proposal:
    idempotency.check_same(existing.idempotency_fingerprint, fingerprint)
    return idempotency.mark(existing, created=False)


def _lock_pending(proposal: Proposal) -> Proposal:
    proposal = Proposal.objects.select_for_update(of=("self",)).select_related("resident", "batch").get(pk=proposal.pk)
    if proposal.status != Proposal.Status.PENDING:
        raise Conflict(_("This proposal has already been decided (%(status)s).") % {"status": proposal.status},
                       code="already_decided")
    return proposal


def _require_member_for(user, proposal: Proposal) -> None:
    if proposal.kind == Proposal.Kind.SINGLE:
        _require_committee(user, resident=proposal.resident)
    else:
        _require_committee(user)
        from modules.points.batches.services import targets_outside_scope

        if targets_outside_scope(user, proposal.batch):
            raise NotAllowed(_("Some residents of this batch are outside your committee's area."),
                             code="out_of_scope")
    if proposal.proposed_by_id == user.pk:
        raise NotAllowed(_("The member who proposed it cannot approve or reject it (maker–checker)."),
                         code="maker_checker")
    if Vote.objects.filter(proposal=proposal, member=user).exists():
        raise Conflict(_("You have already decided on this proposal."), code="already_voted")


def approve_proposal(*, actor, proposal: Proposal, note: str = "") -> Proposal:
    """A committee member approves. At the quorum, the entry is posted (or the batch starts)."""
    user = _user(actor)
    with transaction.atomic():
        proposal = _lock_pending(proposal)
        _require_member_for(user, proposal)
        Vote.objects.create(proposal=proposal, member=user, decision=Vote.Decision.APPROVE, reason=note[:2000])
        approvals = Vote.objects.filter(proposal=proposal, decision=Vote.Decision.APPROVE).count()
        audit.record(actor=user, action="points.proposal.approve", target=proposal,
                     after={"approvals": approvals, "quorum": proposal.quorum})
        if approvals >= proposal.quorum:
            _carry_out(proposal, approver=user)
    return proposal


def _carry_out(proposal: Proposal, *, approver) -> None:
    now = timezone.now()
    if proposal.kind == Proposal.Kind.SINGLE:
        version = current_version(proposal.rule_id)  # posted under the version in force now
        entry, created = _post(resident_id=proposal.resident_id, version=version, points=proposal.points,
                               reason=proposal.reason, occurred_on=proposal.occurred_on, evidence=proposal.evidence,
                               evidence_file=proposal.evidence_file or None, source_kind=SourceKind.PROPOSAL,
                               source_id=proposal.pk, posted_by=proposal.proposed_by, approved_by=approver,
                               key=f"proposal:{proposal.pk}")
        proposal.entry = entry
        if created:
            notify_after_commit([entry.pk])
    else:
        from modules.points.batches.services import start_approved

        start_approved(proposal.batch, approver=approver)
    proposal.status, proposal.decided_at = Proposal.Status.APPROVED, now
    proposal.save(update_fields=["status", "decided_at", "entry"])
    audit.record(actor=approver, action="points.proposal.carried", target=proposal,
                 after={"entry": proposal.entry_id, "batch": proposal.batch_id})


def reject_proposal(*, actor, proposal: Proposal, reason: str) -> Proposal:
    """A committee member rejects, saying why; the proposal and its reason are kept."""
    user = _user(actor)
    reason = _text(reason, "reason", 2000, required=True, message=_("Say why the proposal is rejected."))
    with transaction.atomic():
        proposal = _lock_pending(proposal)
        _require_member_for(user, proposal)
        Vote.objects.create(proposal=proposal, member=user, decision=Vote.Decision.REJECT, reason=reason)
        proposal.status, proposal.decided_at, proposal.rejection_reason = (
            Proposal.Status.REJECTED, timezone.now(), reason)
        proposal.save(update_fields=["status", "decided_at", "rejection_reason"])
        if proposal.batch_id:
            from modules.points.batches.services import reject_batch

            reject_batch(proposal.batch, reason=reason)
        audit.record(actor=user, action="points.proposal.reject", target=proposal, after={"reason": reason[:500]})
    return proposal


def withdraw_refusal(user, proposal: Proposal) -> DomainError | None:
    """Why ``user`` may not withdraw the proposal (None: they may): the one rule ``withdraw_proposal``
    applies and the pages ask before they offer the button."""
    if proposal.status != Proposal.Status.PENDING:
        return Conflict(_("This proposal has already been decided (%(status)s).") % {"status": proposal.status},
                        code="already_decided")
    user = _user(user)
    if not user or (proposal.proposed_by_id != user.pk and not has_role(user, Role.DISTRICT_ADMIN)):
        return NotAllowed(_("Only who proposed it (or the administrator) may withdraw a proposal."))
    return None


def withdraw_proposal(*, actor, proposal: Proposal) -> Proposal:
    user = _user(actor)
    with transaction.atomic():
        proposal = _lock_pending(proposal)
        refusal = withdraw_refusal(user, proposal)
        if refusal is not None:
            raise refusal
        proposal.status, proposal.decided_at = Proposal.Status.WITHDRAWN, timezone.now()
        proposal.save(update_fields=["status", "decided_at"])
        if proposal.batch_id:
            from modules.points.batches.services import reject_batch

            reject_batch(proposal.batch, reason="withdrawn")
        audit.record(actor=user, action="points.proposal.withdraw", target=proposal)
    return proposal
