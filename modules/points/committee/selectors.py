"""Reads of the committee: the queue of pending proposals and appeals a member may decide, and the
figures of the ops console."""
from __future__ import annotations

from django.db.models import QuerySet

from kernel.permissions import has_role, in_scope
from kernel.roles import Role, ScopeKind
from kernel.selectors import role_names, roles_of
from modules.points.batches.services import targets_outside_scope
from modules.points.committee.models import Appeal, Proposal, Vote
from modules.points.committee.services import withdraw_refusal
from modules.points.ledger.models import SourceKind
from modules.points.ledger.search import resident_rows
from modules.registry.models import Resident
from modules.registry.selectors import RESIDENT_SCOPE

COMMITTEE = (Role.COMMITTEE_MEMBER,)


def pending_proposals(user=None) -> QuerySet:
    qs = Proposal.objects.filter(status=Proposal.Status.PENDING).select_related(
        "rule_version", "resident", "batch", "proposed_by").prefetch_related("votes")
    if user is not None and Role.COMMITTEE_MEMBER in role_names(user):
        qs = qs.exclude(proposed_by=user).exclude(votes__member=user)
    return qs


def pending_appeals() -> QuerySet:
    return Appeal.objects.filter(status=Appeal.Status.PENDING).select_related("entry__rule_version", "resident")


# --- the committee ------------------------------------------------------------------------------------

def decorate_votes(items) -> None:
    """Each proposal or appeal gets ``vote_list``, ``approvals`` and ``dots`` (the quorum, filled as approved)."""
    for item in items:
        votes = list(item.votes.all())
        item.vote_list = votes
        item.approvals = sum(1 for v in votes if v.decision == Vote.Decision.APPROVE)
        item.dots = [i < item.approvals for i in range(max(item.quorum, item.approvals))]  # filled: approved


def _member_residents(user):
    return in_scope(user, Resident.objects.all(), roles=COMMITTEE, fields=RESIDENT_SCOPE).values("pk")


def _district_member(user) -> bool:
    return any(a.role == Role.COMMITTEE_MEMBER and a.scope_kind == ScopeKind.DISTRICT for a in roles_of(user))


def committee_queue(user) -> dict:
    """Pending proposals and appeals: those this member may decide (``decide``), and the others still
    pending they can see (``waiting``: proposed or already voted by them, or, for the administrator, all)."""
    is_member = has_role(user, Role.COMMITTEE_MEMBER)
    pending = (Proposal.objects.filter(status=Proposal.Status.PENDING)
               .select_related("rule_version__rule", "resident", "batch", "proposed_by")
               .prefetch_related("votes__member").order_by("proposed_at", "id"))
    decide, waiting = [], []
    district_wide = _district_member(user)
    inside = set() if district_wide or not is_member else None
    for p in pending:
        mine = is_member and (p.proposed_by_id == user.pk or any(v.member_id == user.pk for v in p.votes.all()))
        may = is_member and not mine
        if may and not district_wide:
            if p.kind == Proposal.Kind.SINGLE:
                if inside is None:
                    inside = set(_member_residents(user).values_list("pk", flat=True))
                may = p.resident_id in inside
            else:
                may = not targets_outside_scope(user, p.batch)
        if may:
            decide.append(p)
        elif mine or has_role(user, Role.DISTRICT_ADMIN):
            waiting.append(p)
    decorate_votes(decide + waiting)
    for p in decide + waiting:
        p.may_withdraw = withdraw_refusal(user, p) is None
    appeals_decide, appeals_waiting = [], []
    appeals = (Appeal.objects.filter(status=Appeal.Status.PENDING)
               .select_related("entry__rule_version__rule", "entry__posted_by", "entry__approved_by", "resident",
                               "filed_by")
               .prefetch_related("votes__member").order_by("filed_at", "id"))
    approved_by_me = set()
    if is_member:
        approved_by_me = set(Vote.objects.filter(member=user, decision=Vote.Decision.APPROVE, proposal__isnull=False)
                             .values_list("proposal_id", flat=True))
    for a in appeals:
        e = a.entry
        conflict = user.pk in (e.posted_by_id, e.approved_by_id) or (
            e.source_kind == SourceKind.PROPOSAL and e.source_id in approved_by_me)
        voted = any(v.member_id == user.pk for v in a.votes.all())
        may = is_member and not conflict and not voted
        if may and not district_wide:
            if inside is None:
                inside = set(_member_residents(user).values_list("pk", flat=True))
            may = a.resident_id in inside
        a.conflict = conflict
        if may:
            appeals_decide.append(a)
        elif (is_member and (voted or conflict)) or has_role(user, Role.DISTRICT_ADMIN):
            appeals_waiting.append(a)
    decorate_votes(appeals_decide + appeals_waiting)
    residents = {p.resident_id for p in decide + waiting if p.resident_id} | {
        a.resident_id for a in appeals_decide + appeals_waiting}
    cards = {r.id: r for r in resident_rows(list(Resident.objects.filter(pk__in=residents)))}
    for item in decide + waiting + appeals_decide + appeals_waiting:
        item.card = cards.get(item.resident_id)
    return {"decide": decide, "waiting": waiting, "appeals": appeals_decide, "appeals_waiting": appeals_waiting}


def pending_proposals_kpi() -> int:
    return Proposal.objects.filter(status=Proposal.Status.PENDING).count()
