"""Reads of the registry, and the place hierarchy the permission layer uses for scopes."""
from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from kernel.permissions import in_scope, register_containment
from kernel.personal import blind_index, normalize_id_number
from kernel.roles import STAFF_ROLES, Role
from kernel.selectors import module_config, role_names
from modules.registry.models import Community, Grid, Household, Membership, Resident

# Lookups from a row to the code of each kind of place, per model.
HOUSEHOLD_SCOPE = {"grid": "grid__code", "community": "grid__community__code",
                   "street": "grid__community__street__code"}
RESIDENT_SCOPE = {k: f"memberships__household__{v}" for k, v in HOUSEHOLD_SCOPE.items()}


def contains(kind: str, code: str, target_kind: str, target_code: str) -> bool:
    """Street > community > grid: does the place (kind, code) contain (target_kind, target_code)?"""
    if target_kind == "grid":
        grid = Grid.objects.filter(code=target_code).select_related("community__street").first()
        if grid is None:
            return False
        return (kind == "community" and grid.community.code == code) or (
            kind == "street" and grid.community.street.code == code)
    if target_kind == "community" and kind == "street":
        return Community.objects.filter(code=target_code, street__code=code).exists()
    return False


register_containment(contains)


def households_for(user) -> QuerySet:
    qs = Household.objects.select_related("building__compound", "grid")
    return in_scope(user, qs, roles=STAFF_ROLES, fields=HOUSEHOLD_SCOPE)


def residents_for(user) -> QuerySet:
    qs = Resident.objects.all()
    roles = role_names(user)
    if Role.DISTRICT_ADMIN in roles:
        return qs
    return in_scope(user, qs, roles=STAFF_ROLES, fields=RESIDENT_SCOPE).distinct()


def resident_by_id_number(id_number: str) -> Resident | None:
    return Resident.objects.filter(id_number_index=blind_index(normalize_id_number(id_number), "id")).first()


def sees_full_id_numbers(user) -> bool:
    allowed = set(module_config("registry")["full_id_number_roles"])
    return bool(role_names(user) & allowed)


def current_households(resident: Resident) -> QuerySet:
    return Household.objects.filter(memberships__resident=resident, memberships__ended_at__isnull=True)


def household_members(household: Household) -> QuerySet:
    return Membership.objects.filter(household=household, ended_at__isnull=True).select_related("resident")


def counts() -> dict[str, int]:
    return {"households": Household.objects.count(), "residents": Resident.objects.count(),
            "unbound_residents": Resident.objects.annotate(
                n=Count("memberships", filter=Q(memberships__ended_at__isnull=True))).filter(n=0).count()}


def resident_count() -> int:
    return Resident.objects.count()


def place_tree() -> list[dict]:
    """Streets with their communities and grids, and the departments: what a role's scope is picked
    from. [{"kind", "code", "name", "depth"}] in tree order (street, its communities, each one's grids)."""
    from modules.registry.models import Community, Department, Grid, Street

    communities: dict[int, list] = {}
    for c in Community.objects.order_by("code"):
        communities.setdefault(c.street_id, []).append(c)
    grids: dict[int, list] = {}
    for g in Grid.objects.order_by("code"):
        grids.setdefault(g.community_id, []).append(g)
    rows = []
    for street in Street.objects.order_by("code"):
        rows.append({"kind": "street", "code": street.code, "name": street.name, "depth": 0})
        for c in communities.get(street.pk, ()):
            rows.append({"kind": "community", "code": c.code, "name": c.name, "depth": 1})
            rows += [{"kind": "grid", "code": g.code, "name": g.name, "depth": 2} for g in grids.get(c.pk, ())]
    rows += [{"kind": "department", "code": d.code, "name": d.name, "depth": 0}
             for d in Department.objects.order_by("code")]
    return rows


def place_exists(kind: str, code: str) -> bool:
    from modules.registry.models import Community, Department, Grid, Street

    model = {"street": Street, "community": Community, "grid": Grid, "department": Department}.get(kind)
    return model is not None and model.objects.filter(code=code).exists()


def place_names(pairs) -> dict[tuple[str, str], str]:
    """(kind, code) -> the place's name, for the pairs that exist (e.g. the scopes of role assignments)."""
    from modules.registry.models import Community, Department, Grid, Street

    out: dict[tuple[str, str], str] = {}
    wanted: dict[str, set[str]] = {}
    for kind, code in pairs:
        wanted.setdefault(kind, set()).add(code)
    for kind, model in (("street", Street), ("community", Community), ("grid", Grid), ("department", Department)):
        if wanted.get(kind):
            out.update({(kind, c): n for c, n in model.objects.filter(code__in=wanted[kind]).values_list("code", "name")})
    return out
