"""Reads of the codes module: configuration, codes in a user's area, scan resolution, bindings."""
from __future__ import annotations

from dataclasses import dataclass, field

import phonenumbers
from django.db import connection
from django.db.models import Q, QuerySet

from kernel.errors import DomainError
from kernel.permissions import has_role, has_role_for, in_scope
from kernel.personal import national_phone
from kernel.roles import GRID_WORKERS, STAFF_ROLES, Role
from kernel.selectors import module_config, roles_of
from modules.catalog import catalog
from modules.codes.actions import ScanContext, actions_for, autodiscover
from modules.codes.models import BindingRequest, Code, HouseholdInvite, PrintRun
from modules.codes.qr import scan_url
from modules.registry.models import Community, Household, Membership, Merchant, Official, Resident, Street

# Who may issue and revoke codes, and decide bindings, in their own area.
ISSUERS = (Role.DISTRICT_ADMIN, Role.COMMUNITY_STAFF, Role.GRID_WORKER, Role.GRID_WORKER_PART_TIME)
DECIDERS = ISSUERS
PRINTERS = (Role.DISTRICT_ADMIN, Role.COMMUNITY_STAFF)

HOUSEHOLD_PLACE = {"grid": "grid__code", "community": "grid__community__code",
                   "street": "grid__community__street__code"}


def config() -> dict:
    """The module's configuration in force, with defaults for keys added after it was saved."""
    merged = catalog["codes"].default_config()
    stored = module_config("codes")
    for key, value in stored.items():
        merged[key] = {**merged.get(key, {}), **value} if isinstance(value, dict) else value
    return merged


def district_domain(district=None) -> str:
    district = district or connection.tenant
    return district.primary_domain or district.domains.order_by("domain").values_list("domain", flat=True).first()


def site_origin(district=None) -> str:
    """Scheme, host and port of the links that leave the screen (printed codes, a code on screen, an
    invitation): the codes setting ``base_url`` when set (a short domain; in the demo the machine's
    LAN address and port, so a phone on the same network opens them), else https://<district domain>.
    Reads the current district's configuration: call it inside the district."""
    return (config().get("base_url") or "").rstrip("/") or f"https://{district_domain(district)}"


def url_of(code: Code, site: str | None = None) -> str:
    return scan_url(site or site_origin(), code.token)


# --- places and scopes ----------------------------------------------------------------------------------

def _place_of(target) -> tuple[str, str] | None:
    """(scope kind, code) of the place a code's target sits in, for scope checks."""
    if isinstance(target, Household):
        return "grid", target.grid.code
    if isinstance(target, Merchant):
        return ("grid", target.grid.code) if target.grid_id else None
    if isinstance(target, Official):
        return "department", target.department.code
    return None


def may_manage(user, target, roles=ISSUERS) -> bool:
    """Staff whose area covers the target's place (the district admin everywhere); a grid's own
    worker for its households."""
    if not getattr(user, "is_authenticated", False):
        return False
    if has_role(user, Role.DISTRICT_ADMIN):
        return True
    place = _place_of(target)
    if place is None:
        return False
    if has_role_for(user, roles, *place):
        return True
    grid = getattr(target, "grid", None)
    return bool(grid is not None and grid.worker_id == user.pk and has_role(user, *GRID_WORKERS))


def codes_for(user) -> QuerySet:
    """Codes of the places in the user's area (staff roles)."""
    qs = Code.objects.select_related("household__building__compound", "household__grid", "merchant",
                                     "official__department")
    if has_role(user, Role.DISTRICT_ADMIN):
        return qs
    households = in_scope(user, qs.filter(household__isnull=False), roles=STAFF_ROLES,
                          fields={k: f"household__{v}" for k, v in HOUSEHOLD_PLACE.items()})
    merchants = in_scope(user, qs.filter(merchant__isnull=False), roles=STAFF_ROLES,
                         fields={k: f"merchant__{v}" for k, v in HOUSEHOLD_PLACE.items()})
    officials = in_scope(user, qs.filter(official__isnull=False), roles=STAFF_ROLES,
                         fields={"department": "official__department__code"})
    own = qs.filter(Q(household__grid__worker=user) | Q(merchant__grid__worker=user)) if user.is_authenticated \
        else qs.none()
    return (households | merchants | officials | own).distinct()


def active_code(*, household=None, merchant=None, official=None, kind: str | None = None) -> Code | None:
    qs = Code.objects.filter(status=Code.Status.ACTIVE)
    if household is not None:
        qs = qs.filter(household=household, kind=kind or Code.Kind.HOUSEHOLD)
    elif merchant is not None:
        qs = qs.filter(merchant=merchant)
    elif official is not None:
        qs = qs.filter(official=official)
    else:
        return None
    return qs.first()


def codes_in_scope(scope_kind: str, scope_code: str, kinds) -> QuerySet:
    """Active codes of a community or a street, in print order (place, then address)."""
    prefix = "grid__community__code" if scope_kind == "community" else "grid__community__street__code"
    place = Q(**{f"household__{prefix}": scope_code}) | Q(**{f"merchant__{prefix}": scope_code})
    return (Code.objects.filter(place, status=Code.Status.ACTIVE, kind__in=list(kinds))
            .select_related("household__building__compound", "merchant")
            .order_by("kind", "household__building__compound__code", "household__building__number",
                      "household__unit", "household__room", "merchant__name", "id"))


def scope_name(scope_kind: str, scope_code: str) -> str | None:
    model = Community if scope_kind == "community" else Street if scope_kind == "street" else None
    if model is None:
        return None
    return model.objects.filter(code=scope_code).values_list("name", flat=True).first()


def print_runs_for(user) -> QuerySet:
    qs = PrintRun.objects.select_related("created_by")
    if has_role(user, Role.DISTRICT_ADMIN):
        return qs
    condition = Q(pk__in=[])
    for a in roles_of(user):
        if a.role not in PRINTERS:
            continue
        if a.scope_kind == "street":
            communities = list(Community.objects.filter(street__code=a.scope_code).values_list("code", flat=True))
            condition |= Q(scope_kind="street", scope_code=a.scope_code) | Q(scope_kind="community",
                                                                                scope_code__in=communities)
        elif a.scope_kind == "community":
            condition |= Q(scope_kind="community", scope_code=a.scope_code)
    return qs.filter(condition)


# --- bindings ------------------------------------------------------------------------------------------

def bindings_for(user, *, status: str | None = BindingRequest.Status.PENDING) -> QuerySet:
    """Binding requests a decider sees: their area's, and their own grids' as grid worker."""
    qs = BindingRequest.objects.select_related("household__building__compound", "household__grid", "user")
    if status:
        qs = qs.filter(status=status)
    if has_role(user, Role.DISTRICT_ADMIN):
        return qs
    scoped = in_scope(user, qs, roles=DECIDERS, fields={k: f"household__{v}" for k, v in HOUSEHOLD_PLACE.items()})
    if has_role(user, *GRID_WORKERS):
        scoped = scoped | qs.filter(household__grid__worker=user)
    return scoped.distinct()


def own_bindings(user) -> QuerySet:
    return BindingRequest.objects.filter(user=user).select_related("household__building__compound")


def pending_binding_count() -> int:
    return BindingRequest.objects.filter(status=BindingRequest.Status.PENDING).count()


def active_code_count() -> int:
    return Code.objects.filter(status=Code.Status.ACTIVE).count()


def resident_of(user) -> Resident | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return Resident.objects.filter(user=user).first()


def membership_of(user, household) -> Membership | None:
    resident = resident_of(user)
    if resident is None:
        return None
    return Membership.objects.filter(resident=resident, household=household, ended_at__isnull=True).first()


def members(household) -> QuerySet:
    from modules.registry.selectors import household_members

    return household_members(household).order_by("relation", "id")


def open_invite(token: str) -> HouseholdInvite:
    invite = HouseholdInvite.objects.select_related("household__building__compound").filter(token=token).first()
    if invite is None:
        raise DomainError("No such invitation. Ask the household head for a new link.", code="invite_not_found",
                          status=404)
    return invite


# --- scanning ------------------------------------------------------------------------------------------

class CodeNotFound(DomainError):
    status = 404
    code = "code_not_found"


@dataclass
class Contact:
    role: str  # grid_worker / police / property_manager
    label_zh: str
    label_en: str
    name: str
    phone: str = ""  # a duty number the district publishes, whole
    phones: tuple = ()  # the numbers in name and phone as tap-to-call links: ({"tel": "+86…", "shown": "…"}, …)

    def label(self, english: bool) -> str:
        return self.label_en if english else self.label_zh


@dataclass
class Scan:
    code: Code
    context: ScanContext
    viewer: str  # the strongest audience: owner > staff > resident > passerby
    actions: list = field(default_factory=list)  # [(Action, url)]
    contacts: list[Contact] = field(default_factory=list)
    summary: dict = field(default_factory=dict)

    @property
    def revoked(self) -> bool:
        return not self.code.is_active

    @property
    def audiences(self) -> frozenset[str]:
        return self.context.audiences


def code_by_token(token: str) -> Code:
    code = (Code.objects.select_related("household__building__compound__community", "household__grid__community",
                                        "household__grid__worker", "merchant__grid", "merchant__owner",
                                        "official__department", "official__user", "replaced_by")
            .filter(token=token).first() if token else None)
    if code is None:
        raise CodeNotFound("No code has this address. Check that the whole code was scanned.")
    return code


def phone_links(text: str) -> tuple[dict, ...]:
    """The phone numbers inside a contact's text ("王警官 0477-8312345"), as tap-to-call links."""
    found = []
    for match in phonenumbers.PhoneNumberMatcher(text or "", "CN"):
        e164 = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
        shown = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.NATIONAL)
        found.append({"tel": e164, "shown": shown})
    return tuple(found)


def _contact(role: str, label_zh: str, label_en: str, text: str, phone: str = "") -> Contact:
    """A contact from its published text ("王警官 0477-8312345"): the name without the numbers, which
    become the links."""
    name, last = [], 0
    for match in phonenumbers.PhoneNumberMatcher(text, "CN"):
        name.append(text[last:match.start])
        last = match.end
    name.append(text[last:])
    links = phone_links(f"{text} {phone}")
    return Contact(role, label_zh, label_en, " ".join("".join(name).split()),
                   " / ".join(link["shown"] for link in links), links)


def outdoor_contacts(household: Household, *, staff: bool) -> list[Contact]:
    """Whom to contact at an outdoor code. The numbers are the duty numbers the district publishes
    (the grid's duty phone, the community police's, the property manager's): shown whole to everyone,
    as tap-to-call links. The grid worker's own phone is personal: staff only, and only where the grid
    has no duty number."""
    wanted = config()["outdoor_contacts"]
    grid = household.grid
    compound = household.building.compound
    community = grid.community
    out = []
    if wanted.get("grid_worker", True) and (grid.worker_id or grid.duty_phone):
        worker = grid.worker
        name = (worker.display_name or worker.username) if worker is not None else ""
        phone = grid.duty_phone
        if not phone and staff and worker is not None and worker.phone_encrypted:
            phone = national_phone(worker.phone)
        out.append(_contact("grid_worker", "网格员", "Grid worker", name, phone))
    if wanted.get("police", True) and community.police_contact:
        out.append(_contact("police", "社区民警", "Community police", community.police_contact))
    if wanted.get("property_manager", True) and (compound.property_contact or compound.property_company):
        text = " ".join(t for t in (compound.property_company, compound.property_contact) if t)
        out.append(_contact("property_manager", "物业", "Property manager", text))
    return out


def _audiences(code: Code, user) -> frozenset[str]:
    found = {"passerby"}
    if not getattr(user, "is_authenticated", False):
        return frozenset(found)
    target = code.target
    if code.household_id:
        membership = membership_of(user, code.household)
        if membership is not None:
            found.add("resident")
            if membership.relation == Membership.Relation.HEAD:
                found.add("owner")
        if may_manage(user, target, roles=STAFF_ROLES):
            found.add("staff")
        return frozenset(found)
    if resident_of(user) is not None or has_role(user, Role.RESIDENT):
        found.add("resident")
    if code.merchant_id and code.merchant.owner_id == user.pk:
        found.add("owner")
    if code.official_id and code.official.user_id == user.pk:
        found.add("owner")
    if may_manage(user, target, roles=STAFF_ROLES) or (code.merchant_id and has_role(user, Role.GRID_WORKER_SECTOR)):
        found.add("staff")
    return frozenset(found)


def _summary(code: Code, *, staff: bool) -> dict:
    if code.household_id:
        h = code.household
        return {"address": h.address, "community": h.grid.community.name, "grid": h.grid.name}
    if code.merchant_id:
        m = code.merchant
        out = {"name": m.name, "kind": m.kind, "address": m.address, "license_number": m.license_number,
               "active": m.active}
        if code.kind == Code.Kind.STALL:
            owner = m.owner
            out.update(licensed_place=m.licensed_place, licensed_hours=m.licensed_hours,
                       vendor=(owner.display_name or owner.username) if owner else "")
        if staff and m.phone_encrypted:
            from kernel.personal import decrypt

            out["phone"] = national_phone(decrypt(m.phone_encrypted))
        return out
    o = code.official
    return {"name": o.name, "department": o.department.name, "post": o.post, "active": o.active}


VIEWER_ORDER = ("owner", "staff", "resident", "passerby")


def resolve_scan(token: str, user, district=None) -> Scan:
    """What a scan of ``token`` shows this user. Unknown tokens raise CodeNotFound; a revoked code
    resolves with ``revoked`` set and nothing else."""
    autodiscover()
    district = district or connection.tenant
    code = code_by_token(token)
    audiences = _audiences(code, user)
    ctx = ScanContext(code=code, user=user, district=district, audiences=audiences, target=code.target)
    viewer = next(v for v in VIEWER_ORDER if v in audiences)
    scan = Scan(code=code, context=ctx, viewer=viewer)
    if not code.is_active:
        return scan
    staff = "staff" in audiences
    scan.summary = _summary(code, staff=staff)
    if code.kind == Code.Kind.OUTDOOR:
        scan.contacts = outdoor_contacts(code.household, staff=staff)
    scan.actions = actions_for(ctx)
    return scan
