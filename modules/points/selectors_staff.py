"""Reads of the points staff pages: finding a resident in the user's area (by name, phone, ID number
or household address; numbers only ever shown masked), the committee queue a member may decide, the
batches a user sees with the places to choose from, and the rulebook with its versions. Writes stay in
``services`` and ``batches``."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from kernel.permissions import has_role, in_scope
from kernel.personal import blind_index, normalize_id_number, normalize_phone
from kernel.roles import Role, ScopeKind
from kernel.selectors import roles_of
from modules.points import selectors
from modules.points.batches import targets_outside_scope
from modules.points.models import Appeal, Balance, BalanceKind, Batch, Proposal, RuleVersion, SourceKind, Vote
from modules.points.services import POSTER_ROLES
from modules.registry.models import Community, Compound, Grid, Membership, Resident, Street
from modules.registry.selectors import RESIDENT_SCOPE

SEARCH_LIMIT = 20
COMMITTEE = (Role.COMMITTEE_MEMBER,)


# --- residents --------------------------------------------------------------------------------------

def residents_in_reach(user, roles=POSTER_ROLES) -> QuerySet:
    """Residents whose current household lies in the user's scopes for ``roles`` (the whole register
    for a district-wide role) — the same test ``services.covers_resident`` applies."""
    if any(a.role in roles and a.scope_kind == ScopeKind.DISTRICT for a in roles_of(user)):
        return Resident.objects.all()
    inside = in_scope(user, Resident.objects.all(), roles=roles, fields=RESIDENT_SCOPE).values("pk")
    return Resident.objects.filter(pk__in=inside)


@dataclass
class ResidentRow:
    id: int
    name: str
    phone: str  # masked: 139****5601
    address: str
    birth_year: int | None
    points: int
    linked: bool
    relations: list[str] = field(default_factory=list)


_ID_LIKE = re.compile(r"^[0-9]{17}[0-9Xx]$")
_PHONE_LIKE = re.compile(r"^\+?[0-9][0-9 \-]{6,16}$")


def _tokens(query: str) -> list[str]:
    return [t for t in re.split(r"[\s,，、]+", query.strip()) if t][:5]


def is_number_query(query: str) -> bool:
    """A phone or ID number typed whole: searched by keyed hash, never echoed back or put in a URL."""
    compact = (query or "").strip().replace(" ", "").replace("-", "")
    return bool(_ID_LIKE.match(compact) or (_PHONE_LIKE.match((query or "").strip())
                                            and len(compact.lstrip("+")) >= 11))


def find_residents(user, query: str, *, limit: int = SEARCH_LIMIT) -> list[ResidentRow]:
    """Residents in the user's area matching ``query``: a whole phone number or ID number (found by
    their keyed hash, never by decrypting), or words each matching the name, the compound, the building
    (3, 3号楼), the unit (2单元) or the room (301)."""
    base = residents_in_reach(user)
    query = (query or "").strip()[:80]
    if not query:
        return []
    compact = query.replace(" ", "").replace("-", "")
    qs = None
    if _ID_LIKE.match(compact):
        try:
            qs = base.filter(id_number_index=blind_index(normalize_id_number(compact), "id"))
        except ValidationError:
            qs = base.none()
    elif _PHONE_LIKE.match(query) and len(compact.lstrip("+")) >= 11:
        try:
            qs = base.filter(phone_index=blind_index(normalize_phone(compact), "phone"))
        except ValidationError:
            qs = base.none()
    if qs is None:
        condition = Q()
        for token in _tokens(query):
            word = Q(name__icontains=token)
            current = Membership.objects.filter(resident=OuterRef("pk"), ended_at__isnull=True)
            place = Q(household__building__compound__name__icontains=token)
            number = re.sub(r"(号楼|栋|幢|号|单元|室)$", "", token)
            if number:
                place |= Q(household__building__number=number) | Q(household__room=number) | Q(
                    household__unit=number)
            word |= Q(Exists(current.filter(place)))
            condition &= word
        qs = base.filter(condition)
    return resident_rows(list(qs.order_by("name", "id")[:limit]))


def resident_rows(residents: list[Resident]) -> list[ResidentRow]:
    """What a staff page shows of residents: name, masked phone, current address, birth year and civic
    points (never the ID number or the full phone number)."""
    ids = [r.pk for r in residents]
    points = dict(Balance.objects.filter(resident_id__in=ids, kind=BalanceKind.CIVIC)
                  .values_list("resident_id", "points"))
    homes: dict[int, list[tuple[str, str]]] = {}
    for m in (Membership.objects.filter(resident_id__in=ids, ended_at__isnull=True)
              .select_related("household__building__compound").order_by("id")):
        homes.setdefault(m.resident_id, []).append((m.household.address, m.get_relation_display()))
    return [ResidentRow(id=r.pk, name=r.name, phone=r.phone_masked, birth_year=r.birth_date.year if r.birth_date else None,
                        address="；".join(a for a, _rel in homes.get(r.pk, [])), points=points.get(r.pk, 0),
                        linked=bool(r.user_id), relations=[str(rel) for _a, rel in homes.get(r.pk, [])])
            for r in residents]


def resident_in_reach(user, pk) -> ResidentRow | None:
    if not str(pk or "").isdigit() or len(str(pk)) > 18:
        return None
    found = residents_in_reach(user).filter(pk=int(pk)).first()
    return resident_rows([found])[0] if found else None


# --- the rulebook -------------------------------------------------------------------------------------

def rule_choices(day=None) -> list[RuleVersion]:
    """Rules staff may post or propose now: current versions in force, not automatic ones."""
    return list(selectors.rules_in_force(day).filter(auto_source=""))


def rulebook(*, include_all: bool) -> list[RuleVersion]:
    """Current versions (in force today, or all), each with ``versions`` (how many) and ``in_force``."""
    rows = list(selectors.rules_in_force(include_all=include_all).annotate(
        versions=Count("rule__versions", distinct=True)))
    from modules.points.services import local_today

    today = local_today()
    for v in rows:
        v.in_force = v.applies_on(today)
    return rows


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


# --- batches ------------------------------------------------------------------------------------------

BATCH_VIEWERS = (Role.DISTRICT_ADMIN, Role.COMMITTEE_MEMBER)


def batches_for(user) -> QuerySet:
    """The administrator and the committee see every batch; other staff the batches they made."""
    qs = Batch.objects.select_related("rule_version__rule", "created_by", "approved_by").order_by("-created_at", "-id")
    if has_role(user, *BATCH_VIEWERS):
        return qs
    return qs.filter(created_by=user)


def place_choices() -> dict[str, list[tuple[str, str]]]:
    """Streets, communities, grids and compounds for the batch form: (code, name)."""
    return {
        "street": list(Street.objects.order_by("code").values_list("code", "name")),
        "community": list(Community.objects.order_by("code").values_list("code", "name")),
        "grid": list(Grid.objects.order_by("code").values_list("code", "name")),
        "compound": list(Compound.objects.order_by("code").values_list("code", "name")),
    }


def place_name(kind: str, code: str) -> str:
    model = {"street": Street, "community": Community, "grid": Grid, "compound": Compound}.get(kind)
    return (model.objects.filter(code=code).values_list("name", flat=True).first() or "") if model else ""


def not_posted_rows(batch: Batch) -> list[dict]:
    """Residents of a batch who got nothing (over the rule's cap): name and current address only."""
    residents = list(selectors.batch_not_posted(batch).order_by("id")[:50_000])
    homes: dict[int, str] = {}
    for m in (Membership.objects.filter(resident_id__in=[r.pk for r in residents], ended_at__isnull=True)
              .select_related("household__building__compound")):
        homes.setdefault(m.resident_id, m.household.address)
    return [{"id": r.pk, "name": r.name, "address": homes.get(r.pk, "")} for r in residents]
