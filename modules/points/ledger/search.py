"""Finding a resident in a staff user's area (by name, phone, ID number or household address;
numbers only ever shown masked), for the pages that post, propose and decide."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q, QuerySet

from kernel.permissions import in_scope
from kernel.personal import blind_index, normalize_id_number, normalize_phone
from kernel.roles import ScopeKind
from kernel.selectors import roles_of
from modules.points.ledger.models import Balance, BalanceKind
from modules.points.ledger.services import POSTER_ROLES
from modules.registry.models import Membership, Resident
from modules.registry.selectors import RESIDENT_SCOPE

SEARCH_LIMIT = 20


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
