"""Writes of the cases module: one function per use case, keyword arguments, one transaction, an
audit entry and a timeline event per step, domain events through the outbox.

Every transition locks the case row (SELECT … FOR UPDATE), checks the current status (409 naming
the allowed states) and the actor's role and scope (403)."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kernel import audit, events, idempotency
from kernel.errors import Conflict, DomainError, NotAllowed
from kernel.models import RoleAssignment
from kernel.permissions import has_role, has_role_for
from kernel.personal import blind_index, encrypt, normalize_phone
from kernel.roles import GRID_WORKERS, Role, ScopeKind
from kernel.selectors import module_config
from kernel.text import clean_name, clean_text, text_problem
from modules.cases import selectors
from modules.cases.calendar import local_date
from modules.cases.models import (
    ADDRESS_MAX,
    DESCRIPTION_MAX,
    MEDIA_URL_MAX,
    RESULT_MAX,
    TITLE_MAX,
    AssignMode,
    Case,
    CaseEvent,
    CaseParticipant,
    Category,
    Holiday,
    OwnerLevel,
    RefCounter,
    ResponsibilityItem,
    ResponsibilityList,
    UnitKind,
)

S = Case.Status
OPEN = (S.SUBMITTED, S.ASSIGNED, S.ACCEPTED, S.IN_PROGRESS)
INTEGRATION_CHANNELS = (Case.Channel.HOTLINE, Case.Channel.MAILBOX, Case.Channel.OPEN311)
VERIFIABLE_CHANNELS = (Case.Channel.SNAP, Case.Channel.OUTDOOR_REPORT, Case.Channel.OUTDOOR_PRAISE)
HOUSEHOLD_CHANNELS = (Case.Channel.OUTDOOR_REPORT, Case.Channel.OUTDOOR_PRAISE)
OWNER_LEVEL_OF_UNIT = {UnitKind.GRID_WORKERS: OwnerLevel.GRID_WORKER, UnitKind.COMMUNITY: OwnerLevel.COMMUNITY,
                       UnitKind.STREET: OwnerLevel.STREET,
                       UnitKind.DEPARTMENT: OwnerLevel.DEPARTMENT, UnitKind.DISTRICT: OwnerLevel.DISTRICT}
BAD_RATING_MAX = 2


# --- helpers ----------------------------------------------------------------------------------------

def _user(actor):
    return actor if getattr(actor, "is_authenticated", False) and getattr(actor, "pk", None) else None


def _now(now):
    return now or timezone.now()


def _config() -> dict:
    return module_config("cases")


def _require_status(case: Case, allowed: Iterable[str], action: str) -> None:
    allowed = [str(s) for s in allowed]
    if case.status not in allowed:
        raise Conflict(
            _("Cannot %(action)s a case that is %(status)s; only a case that is %(allowed)s.")
            % {"action": action, "status": case.status, "allowed": " or ".join(allowed)},
            code="wrong_status")


def _lock(case: Case) -> Case:
    return Case.objects.select_for_update().get(pk=case.pk)


def _event(case: Case, *, kind: str, actor, at, from_status: str = "", to_status: str = "", note: str = "",
           data: dict | None = None) -> CaseEvent:
    return CaseEvent.objects.create(case=case, at=at, actor=_user(actor), kind=kind, from_status=from_status,
                                    to_status=to_status or from_status, note=note[:2000], data=data or {})


def _status_event(topic: str, case: Case, **extra) -> None:
    """A step every listener may care about (integration webhooks, notifications)."""
    events.publish(topic, {"case_id": case.pk, "ref": case.ref, "status": case.status, **extra})


def _is_admin(user) -> bool:
    return bool(user) and has_role(user, Role.DISTRICT_ADMIN)


def supervises(user, case: Case) -> bool:
    """District admins; community staff over the case's place or unit; the responsible department."""
    if not _user(user):
        return False
    if _is_admin(user):
        return True
    staff = (Role.COMMUNITY_STAFF,)
    if case.community_id and has_role_for(user, staff, ScopeKind.COMMUNITY, case.community.code):
        return True
    if case.responsible_kind == UnitKind.COMMUNITY and has_role_for(user, staff, ScopeKind.COMMUNITY,
                                                                    case.responsible_code):
        return True
    if case.responsible_kind == UnitKind.STREET and has_role_for(user, staff, ScopeKind.STREET,
                                                                 case.responsible_code):
        return True
    return case.responsible_kind == UnitKind.DEPARTMENT and has_role_for(
        user, selectors.DEPARTMENT_ROLES, ScopeKind.DEPARTMENT, case.responsible_code)


def is_handler(user, case: Case) -> bool:
    """The assignee, or someone who supervises the case."""
    return bool(_user(user)) and (case.assignee_id == user.pk or supervises(user, case))


def _require_handler(user, case: Case, action: str) -> None:
    if is_handler(user, case):
        return
    raise NotAllowed(_("Only the case's handler or its supervisors may %(action)s it.") % {"action": action})


def reporter_contact(*, actor, case: Case) -> tuple[str, bool]:
    """The phone an anonymous reporter left "so the handler can call back", for ``actor``: whole (and
    recorded as access to personal data) for the case's handler (``is_handler``), masked for everyone
    else. Returns (number, whole); ("", False) when the reporter left none."""
    if not case.reporter_contact_encrypted:
        return "", False
    if not is_handler(actor, case):
        return case.reporter_contact_masked, False
    from kernel.personal import decrypt, national_phone, record_access

    record_access(actor=_user(actor), target=case, field="reporter_contact", purpose="call back the reporter")
    return national_phone(decrypt(case.reporter_contact_encrypted)), True


def _may_accept(user, case: Case) -> bool:
    """A submitted, unassigned case that is not in the pool: its unit's staff; an assigned case: the
    assignee (or a district admin)."""
    if case.status == S.SUBMITTED:
        return case.assign_mode != AssignMode.GRAB and supervises(user, case)
    return bool(_user(user)) and (case.assignee_id == user.pk or _is_admin(user))


# The states each staff step starts from; the services refuse others (409), and the pages offer a step
# only where ``allowed_actions`` finds it.
ACTION_STATUSES = {
    "grab": [S.SUBMITTED], "accept": [S.ASSIGNED, S.SUBMITTED], "start": [S.ACCEPTED],
    "resolve": [S.ACCEPTED, S.IN_PROGRESS], "transfer": OPEN, "participant": OPEN, "reject": OPEN,
}


def allowed_actions(user, case: Case) -> set[str]:
    """The staff steps ``user`` may take on ``case`` now, by the same rules the services apply."""
    if not _user(user):
        return set()
    found = {action for action in ("start", "resolve", "transfer", "participant", "reject")
             if case.status in ACTION_STATUSES[action]} if is_handler(user, case) else set()
    if case.status in ACTION_STATUSES["accept"] and _may_accept(user, case):
        found.add("accept")
    if case.status in ACTION_STATUSES["grab"] and case.assign_mode == AssignMode.GRAB and not case.assignee_id:
        grids = selectors.grab_grids_of(user)
        if grids and Case.objects.filter(selectors.pool_condition(grids), pk=case.pk).exists():
            found.add("grab")
    return found


def _require_reporter(user, case: Case, action: str) -> None:
    if not (_user(user) and case.reporter_id == user.pk):
        raise NotAllowed(_("Only the person who reported the case may %(action)s it.") % {"action": action})


def _next_ref(now) -> str:
    day = local_date(now)
    with connection.cursor() as cursor:
        table = RefCounter._meta.db_table
        cursor.execute(f"INSERT INTO {table} (day, last) VALUES (%s, 1) "  # noqa: S608 - table name from _meta
                       f"ON CONFLICT (day) DO UPDATE SET last = {table}.last + 1 RETURNING last", [day])
        number = cursor.fetchone()[0]
    prefix = _config().get("ref_prefix") or _district_prefix()
    return f"{prefix}-{day:%Y%m%d}-{number:04d}"


def _district_prefix() -> str:
    slug = getattr(getattr(connection, "tenant", None), "slug", "") or "CASE"
    return "".join(ch for ch in slug if ch.isalnum())[:3].upper() or "CASE"


def grid_worker_of(grid_code: str, *, grid=None):
    """The grid's owner (Grid.worker), else a full-time, then part-time grid worker assigned to it.
    ``grid``: the case's grid when already loaded (saves a read when the code is its own)."""
    from modules.registry.models import Grid

    if grid is None or grid.code != grid_code:
        grid = Grid.objects.filter(code=grid_code).select_related("worker").first()
    if grid is not None and grid.worker_id:
        return grid.worker
    order = {r: i for i, r in enumerate(GRID_WORKERS)}
    rows = RoleAssignment.objects.filter(role__in=GRID_WORKERS, scope_kind=ScopeKind.GRID,
                                         scope_code=grid_code).select_related("user")
    rows = sorted(rows, key=lambda a: (order[a.role], a.pk))
    return rows[0].user if rows else None


def _category(category, routing=None) -> Category:
    if isinstance(category, Category):
        obj = category
    elif routing is not None:  # intake: the categories come with the cached routing snapshot
        obj = routing.categories.get(category) if isinstance(category, str) else None
    else:
        obj = Category.objects.filter(code=category).first()
    if obj is None or not obj.active:
        raise DomainError(_("Choose one of the district's case categories."),
                          fields={"category": [_("Unknown or inactive category.")]})
    return obj


def _check_text(title: str, description: str) -> tuple[str, str]:
    """The title and description cleaned by the one check of human text (kernel.text)."""
    fields = {}
    title, problem = text_problem(title, max_length=TITLE_MAX)
    if problem:
        fields["title"] = [_("Say in a few words what the problem is.") if not title else problem]
    description, problem = text_problem(description, max_length=DESCRIPTION_MAX, required=False, multiline=True)
    if problem:
        fields["description"] = [problem]
    if fields:
        raise DomainError(next(iter(fields.values()))[0], fields=fields)
    return title, description


def _position(latitude, longitude):
    if latitude in (None, "") and longitude in (None, ""):
        return None, None
    try:
        lat, lng = Decimal(str(latitude)).quantize(Decimal("0.000001")), Decimal(str(longitude)).quantize(
            Decimal("0.000001"))
    except (InvalidOperation, ValueError) as exc:
        raise DomainError(_("Give the position as latitude and longitude in degrees."),
                          fields={"latitude": [_("Not a number.")]}) from exc
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):
        raise DomainError(_("This position is not on Earth."), fields={"latitude": [_("Out of range.")]})
    return lat, lng


def _media_url(value: str) -> str:
    """A link to the reporter's photo elsewhere (Open311's media_url): kept as a link, never fetched."""
    value = (value or "").strip()
    if not value:
        return ""
    try:
        if len(value) > MEDIA_URL_MAX:
            raise ValidationError("too long")
        URLValidator(schemes=["http", "https"])(value)
    except ValidationError:
        raise DomainError(_("media_url is not an http(s) address of at most %(n)d characters.") % {"n": MEDIA_URL_MAX},
                          fields={"media_url": [_("Not an http(s) address.")]}) from None
    return value


# --- intake -----------------------------------------------------------------------------------------

def submit_case(*, actor, channel: str, category, title: str, description: str = "", household=None,
                compound=None, grid=None, community=None, street=None, merchant=None, address: str = "",
                latitude=None, longitude=None, contact: str = "", idempotency_key: str | None = None,
                integration=None, external_id: str = "", media_url: str = "", now=None) -> Case:
    """Receive a case, route it by the current responsibility list, compute its time limits and
    dispatch it (or post it to the pool). Retrying with the same idempotency key returns the same case.

    Hotline, mailbox and Open311 cases come from their integrations (``integration``: the
    authenticated ``Integration``, passed by the integration endpoints only) or are typed in by district /
    community staff. An integration's idempotency keys live in its own namespace, and its own case
    number (``external_id``) is taken once: a retried post returns the case it made."""
    user = _user(actor)
    now = _now(now)
    config = _config()
    external_id = (external_id or "").strip()
    if len(external_id) > 64:
        raise DomainError(_("At most %(n)d characters.") % {"n": 64}, fields={"external_id": [_("Too long.")]})
    client_key = idempotency.clean_key(idempotency_key)
    request_fingerprint = keys = None
    if client_key:  # the whole key, hashed in its namespace (an integration's own, or the district's)
        namespace = f"cases.integration:{integration.pk}" if integration is not None else "cases"
        legacy = f"i{integration.pk}:{client_key}" if integration is not None else client_key
        keys = idempotency.lookup_keys(namespace, client_key, legacy=legacy, legacy_max=64)
        idempotency_key = keys[0]
        request_fingerprint = idempotency.fingerprint(
            reporter=user, integration=integration, channel=channel, category=getattr(category, "code", category),
            title=title, description=description, household=household, compound=compound, grid=grid,
            community=community, street=street, merchant=merchant, address=address, latitude=latitude,
            longitude=longitude, contact=contact, external_id=external_id, media_url=media_url)
    else:
        idempotency_key = None
    if integration is not None:
        if external_id:
            existing = Case.objects.filter(integration=integration, external_id=external_id).first()
            if existing is not None:
                return idempotency.mark(existing, created=False)
    elif external_id:
        raise DomainError(_("Only an integration gives its own case number."),
                          fields={"external_id": [_("Not allowed here.")]})
    if keys:
        existing = Case.objects.filter(idempotency_key__in=keys).first()
        if existing is not None:
            return _repeat(existing, user, integration, request_fingerprint)
    if channel not in Case.Channel.values:
        raise DomainError(_("Unknown channel."), fields={"channel": [_("Unknown channel.")]})
    if channel in INTEGRATION_CHANNELS:
        if integration is None and not (user and has_role(user, Role.DISTRICT_ADMIN, Role.COMMUNITY_STAFF)):
            raise NotAllowed(_("Hotline, mailbox and Open311 cases come in through their integrations."))
    elif integration is not None:
        raise DomainError(_("An integration files hotline, mailbox or Open311 cases."),
                          fields={"channel": [_("Not an integration channel.")]})
    elif user is None and not config.get("anonymous_reports", True):
        raise NotAllowed(_("Sign in to report: this district does not accept anonymous reports."))
    if channel == Case.Channel.MERCHANT_REQUEST:
        if merchant is None or not (user and merchant.owner_id == user.pk):
            raise NotAllowed(_("Merchant requests are filed by the merchant's owner, through the merchant code."))
        grid = grid or merchant.grid
    elif merchant is not None:
        raise DomainError(_("Only a merchant request names a merchant."), fields={"merchant": [_("Not allowed here.")]})
    routing = selectors.routing(now)
    category = _category(category, routing)
    title, description = _check_text(title, description)
    address = (address or "").strip()
    if len(address) > ADDRESS_MAX:
        raise DomainError(_("At most %(n)d characters.") % {"n": ADDRESS_MAX},
                          fields={"address": [_("At most %(n)d characters.") % {"n": ADDRESS_MAX}]})
    if channel in HOUSEHOLD_CHANNELS and household is None:
        raise DomainError(_("An outdoor-code report names the household."),
                          fields={"household": [_("Required for this channel.")]})
    if channel == Case.Channel.SUGGESTION and not (street or community or compound or grid or household):
        raise DomainError(_("Say whom the suggestion is for: a street, a community or a compound."),
                          fields={"street": [_("Choose a street, community or compound.")]})
    if household is not None:
        grid = household.grid
        compound = compound or household.building.compound
    if compound is not None and grid is None:
        grid = compound.grid
    if grid is not None:
        community = grid.community
    if community is not None:
        street = community.street
    latitude, longitude = _position(latitude, longitude)
    media_url = _media_url(media_url)
    contact_encrypted = contact_index = ""
    if contact:
        try:
            phone = normalize_phone(contact)
        except Exception as exc:
            raise DomainError(_("This is not a phone number."), fields={"contact": [str(exc.messages[0])]}) from exc
        contact_encrypted, contact_index = encrypt(phone), blind_index(phone, "phone")

    reporter_household = None
    if user is not None:
        from modules.registry.models import Household

        reporter_household = Household.objects.filter(memberships__resident__user=user,
                                                      memberships__ended_at__isnull=True).values_list(
            "pk", flat=True).first()

    # Route: the most specific row of the current list; else the configured defaults.
    rlist, calendar = routing.rlist, routing.calendar
    item = routing.route(category=category, grid=grid, community=community, street=street)
    if item is not None:
        unit_kind, unit_code = item.unit_kind, item.unit_code
        response_due = calendar.due(now, item.response_amount, item.response_unit)
        resolution_due = calendar.due(now, item.resolution_amount, item.resolution_unit)
    else:
        unit_kind, unit_code = UnitKind.GRID_WORKERS, ""
        response_due = calendar.add_hours(now, config["response_hours"])
        resolution_due = calendar.add_working_days(now, config["resolution_days"])
    if unit_kind == UnitKind.GRID_WORKERS and not unit_code:
        if grid is not None:
            unit_code = grid.code
        elif community is not None:
            unit_kind, unit_code = UnitKind.COMMUNITY, community.code
        elif street is not None:
            unit_kind, unit_code = UnitKind.STREET, street.code
        else:
            unit_kind = UnitKind.DISTRICT

    assignee = None
    mode = category.assign_mode
    if unit_kind == UnitKind.GRID_WORKERS and mode == AssignMode.DISPATCH:
        assignee = grid_worker_of(unit_code, grid=grid)
        if assignee is None:
            mode = AssignMode.GRAB  # nobody owns the grid: its workers may grab it
    case = Case(
        channel=channel, category=category, title=title, description=description, household=household,
        compound=compound, grid=grid, community=community, street=street, merchant=merchant, address=address,
        integration=integration, external_id=external_id, latitude=latitude, longitude=longitude, media_url=media_url,
        reporter=user, reporter_household_id=reporter_household, reporter_contact_encrypted=contact_encrypted,
        reporter_contact_index=contact_index, status=S.ASSIGNED if assignee else S.SUBMITTED, assign_mode=mode,
        assignee=assignee, responsible_kind=unit_kind, responsible_code=unit_code, rlist=rlist,
        submitted_at=now, response_due=response_due, resolution_due=resolution_due,
        owner_level=OWNER_LEVEL_OF_UNIT[UnitKind(unit_kind)], next_escalation_at=response_due,
        idempotency_key=idempotency_key, idempotency_fingerprint=request_fingerprint)
    try:
        with transaction.atomic():
            case.ref = _next_ref(now)
            case.save()
            timeline = [CaseEvent(case=case, at=now, actor=user, kind="submitted", to_status=S.SUBMITTED,
                                  data={"channel": channel, "unit": f"{unit_kind}:{unit_code}",
                                        "rlist_version": rlist.version if rlist else None,
                                        "rule": item.pk if item else None})]
            if assignee is not None:
                timeline.append(CaseEvent(case=case, at=now, kind="assigned", from_status=S.SUBMITTED,
                                          to_status=S.ASSIGNED, data={"assignee": assignee.username, "how": "dispatch"}))
            elif mode == AssignMode.GRAB:
                timeline.append(CaseEvent(case=case, at=now, kind="pooled", from_status=S.SUBMITTED,
                                          to_status=S.SUBMITTED, data={"unit": f"{unit_kind}:{unit_code}"}))
            CaseEvent.objects.bulk_create(timeline)
            audit.record(actor=user, action="cases.submit", target=case,
                         after={"ref": case.ref, "channel": channel, "category": category.code,
                                "unit": f"{unit_kind}:{unit_code}", "assignee": getattr(assignee, "username", None)})
            events.publish("cases.submitted", {
                "case_id": case.pk, "ref": case.ref, "channel": channel, "category": category.code,
                "unit_kind": unit_kind, "unit_code": unit_code,
                "assignee_id": assignee.pk if assignee else None})
    except IntegrityError:
        # A concurrent retry with the same key (or the same integration case number) won the race.
        existing = None
        if integration is not None and external_id:
            existing = Case.objects.filter(integration=integration, external_id=external_id).first()
            if existing is not None:
                return idempotency.mark(existing, created=False)
        if existing is None and keys:
            existing = Case.objects.filter(idempotency_key__in=keys).first()
        if existing is not None:
            return _repeat(existing, user, integration, request_fingerprint)
        raise
    return idempotency.mark(case, created=True)


def _repeat(existing: Case, user, integration, request_fingerprint: str) -> Case:
    """The same key again: the first case if it is the same report (kernel.idempotency), else 409."""
    if integration is None and existing.reporter_id != (user.pk if user else None):
        raise idempotency.reused()
    idempotency.check_same(existing.idempotency_fingerprint, request_fingerprint)
    return idempotency.mark(existing, created=False)


# --- grab, accept, start, resolve --------------------------------------------------------------------

def grab_case(*, actor, case: Case, now=None) -> Case:
    """First come wins: the case row is locked; a second grabber sees it taken (409). The worker's
    row is locked too, so one worker's parallel grabs cannot overrun their cap."""
    user = _user(actor)
    now = _now(now)
    if user is None:
        raise NotAllowed(_("Sign in to grab cases."))
    grids = selectors.grab_grids_of(user)
    with transaction.atomic():
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        case = _lock(case)
        _require_status(case, ACTION_STATUSES["grab"], "grab")
        if case.assignee_id or case.assign_mode != AssignMode.GRAB:
            raise Conflict(_("This case is not in the pool."), code="not_in_pool")
        if not grids or not Case.objects.filter(selectors.pool_condition(grids), pk=case.pk).exists():
            raise NotAllowed(_("Only grid workers of the case's area may grab it."))
        cap = _config()["grab_cap_per_worker"]
        if selectors.open_case_count(user) >= cap:
            raise Conflict(_("You already handle %(n)d open cases, the most one worker may hold; finish one first.")
                           % {"n": cap}, code="grab_cap")
        case.status, case.assignee = S.ASSIGNED, user
        case.save(update_fields=["status", "assignee", "updated_at"])
        _event(case, kind="grabbed", actor=user, at=now, from_status=S.SUBMITTED, to_status=S.ASSIGNED)
        audit.record(actor=user, action="cases.grab", target=case, after={"assignee": user.username})
        _status_event("cases.assigned", case, how="grab")
    return case


def accept_case(*, actor, case: Case, now=None) -> Case:
    """The assignee takes the case on (this is the reply). Unit staff accept unassigned community or
    department cases themselves and become the assignee."""
    user = _user(actor)
    now = _now(now)
    with transaction.atomic():
        case = _lock(case)
        _require_status(case, ACTION_STATUSES["accept"], "accept")
        if not _may_accept(user, case):
            if case.status == S.SUBMITTED:
                raise NotAllowed(_("Only the responsible unit's staff may accept an unassigned case."))
            raise NotAllowed(_("Only the assigned worker may accept this case."))
        if case.status == S.SUBMITTED:
            case.assignee = user
        before = case.status
        case.status = S.ACCEPTED
        case.responded_at = case.responded_at or now
        case.next_escalation_at = max(case.resolution_due, now) if case.owner_level < OwnerLevel.DISTRICT else None
        case.save(update_fields=["status", "assignee", "responded_at", "next_escalation_at", "updated_at"])
        _event(case, kind="accepted", actor=user, at=now, from_status=before, to_status=S.ACCEPTED)
        audit.record(actor=user, action="cases.accept", target=case, before={"status": before})
        _status_event("cases.accepted", case)
    return case


def start_case(*, actor, case: Case, now=None) -> Case:
    user = _user(actor)
    now = _now(now)
    with transaction.atomic():
        case = _lock(case)
        _require_status(case, ACTION_STATUSES["start"], "start")
        _require_handler(user, case, "start")
        case.status = S.IN_PROGRESS
        case.save(update_fields=["status", "updated_at"])
        _event(case, kind="started", actor=user, at=now, from_status=S.ACCEPTED, to_status=S.IN_PROGRESS)
        audit.record(actor=user, action="cases.start", target=case)
        _status_event("cases.started", case)
    return case


def resolve_case(*, actor, case: Case, result: str, verified: bool = True, now=None) -> Case:
    """Record the result. Duplicates linked to this case receive the same answer. A verified
    report or praise feeds points (through ``cases.verified_report``) where that module is on."""
    user = _user(actor)
    now = _now(now)
    result = (result or "").strip()
    if not result:
        raise DomainError(_("Say what was done (the result)."), fields={"result": [_("Required.")]})
    if len(result) > RESULT_MAX:
        raise DomainError(_("At most %(n)d characters.") % {"n": RESULT_MAX}, fields={"result": [_("Too long.")]})
    with transaction.atomic():
        case = _lock(case)
        _require_status(case, ACTION_STATUSES["resolve"], "resolve")
        _require_handler(user, case, "resolve")
        before = case.status
        case.status, case.result, case.resolved_at, case.next_escalation_at = S.RESOLVED, result, now, None
        case.responded_at = case.responded_at or now
        case.save(update_fields=["status", "result", "resolved_at", "responded_at", "next_escalation_at",
                                 "updated_at"])
        _event(case, kind="resolved", actor=user, at=now, from_status=before, to_status=S.RESOLVED, note=result,
               data={"verified": verified})
        duplicate_ids = _answer_duplicates(case, actor=user, now=now)
        audit.record(actor=user, action="cases.resolve", target=case, before={"status": before},
                     after={"result": result[:200], "verified": verified})
        events.publish("cases.resolved", {"case_id": case.pk, "ref": case.ref, "channel": case.channel,
                                          "duplicate_ids": duplicate_ids})
        if verified and case.channel in VERIFIABLE_CHANNELS and case.follow_up_of_id is None:  # counted once
            events.publish("cases.verified_report", {
                "case_id": case.pk, "channel": case.channel, "category": case.category.code,
                "reporter_user_id": case.reporter_id, "reporter_household_id": case.reporter_household_id,
                "offender_household_id": case.household_id if case.channel == Case.Channel.OUTDOOR_REPORT else None,
                "praised_household_id": case.household_id if case.channel == Case.Channel.OUTDOOR_PRAISE else None,
            })
    return case


def _answer_duplicates(case: Case, *, actor, now) -> list[int]:
    children = list(Case.objects.select_for_update().filter(parent=case))
    for child in children:
        child.result = case.result
        child.save(update_fields=["result", "updated_at"])
        _event(child, kind="answered_via_parent", actor=actor, at=now, from_status=child.status,
               note=case.result, data={"parent": case.ref})
    return [c.pk for c in children]


# --- reporter: confirm and rate, reopen ----------------------------------------------------------------

def confirm_and_rate(*, actor, case: Case, rating: int, comment: str = "", now=None) -> Case:
    user = _user(actor)
    now = _now(now)
    if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
        raise DomainError(_("Rate from 1 (very dissatisfied) to 5 (very satisfied)."),
                          fields={"rating": [_("A whole number from 1 to 5.")]})
    with transaction.atomic():
        case = _lock(case)
        _require_reporter(user, case, "confirm")
        _require_status(case, [S.RESOLVED], "confirm")
        case.status, case.rating, case.closed_at = S.CLOSED, rating, now
        case.save(update_fields=["status", "rating", "closed_at", "updated_at"])
        _event(case, kind="confirmed", actor=user, at=now, from_status=S.RESOLVED, to_status=S.CLOSED,
               note=comment[:2000], data={"rating": rating})
        audit.record(actor=user, action="cases.confirm", target=case, after={"rating": rating})
        events.publish("cases.closed", {"case_id": case.pk, "ref": case.ref, "rating": rating, "auto": False})
        if rating <= BAD_RATING_MAX:
            events.publish("cases.bad_rating", {"case_id": case.pk, "ref": case.ref, "rating": rating,
                                                "assignee_id": case.assignee_id, "comment": comment[:500]})
    return case


def reopen_case(*, actor, case: Case, reason: str, now=None) -> Case:
    user = _user(actor)
    now = _now(now)
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Say why the problem is not solved."), fields={"reason": [_("Required.")]})
    config = _config()
    with transaction.atomic():
        case = _lock(case)
        _require_reporter(user, case, "reopen")
        _require_status(case, [S.RESOLVED, S.CLOSED], "reopen")
        window = dt.timedelta(days=config.get("reopen_days", 7))
        if case.resolved_at and now > case.resolved_at + window:
            raise Conflict(_("A case can be reopened within %(d)d days of its result; report it anew.")
                           % {"d": window.days}, code="reopen_window_passed")
        before = case.status
        case.status = S.ASSIGNED if case.assignee_id else S.SUBMITTED
        case.resolved_at = case.closed_at = case.rating = None
        case.reopen_count += 1
        case.resolution_due = selectors.work_calendar(now).add_working_days(now, config["resolution_days"])
        case.next_escalation_at = case.resolution_due if case.owner_level < OwnerLevel.DISTRICT else None
        case.save(update_fields=["status", "resolved_at", "closed_at", "rating", "reopen_count", "resolution_due",
                                 "next_escalation_at", "updated_at"])
        _event(case, kind="reopened", actor=user, at=now, from_status=before, to_status=case.status, note=reason)
        audit.record(actor=user, action="cases.reopen", target=case, before={"status": before},
                     after={"reason": reason[:200]})
        _status_event("cases.reopened", case)
    return case


def auto_close(*, now=None, chunk: int = 1000) -> int:
    """Close resolved cases the reporter left quiet for ``auto_close_days`` (set-based); listeners hear
    ``cases.auto_closed`` with the closed cases, ``chunk`` to an event."""
    now = _now(now)
    cutoff = now - dt.timedelta(days=_config()["auto_close_days"])
    case_table, event_table = Case._meta.db_table, CaseEvent._meta.db_table
    sql = f"""
        WITH closed AS (
            UPDATE {case_table} SET status = 'closed', closed_at = %(now)s, updated_at = %(now)s
            WHERE status = 'resolved' AND resolved_at <= %(cutoff)s
            RETURNING id, ref
        ), timeline AS (
            INSERT INTO {event_table} (case_id, at, actor_id, kind, from_status, to_status, note, data)
            SELECT id, %(now)s, NULL, 'auto_closed', 'resolved', 'closed', '', '{{}}'::jsonb FROM closed
        )
        SELECT id, ref FROM closed
    """  # noqa: S608 - table names from _meta
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql, {"now": now, "cutoff": cutoff})
            rows = cursor.fetchall()
        for start in range(0, len(rows), chunk):  # one event per chunk, as the escalation sweep
            events.publish("cases.auto_closed", {"cases": [{"case_id": case_id, "ref": ref}
                                                           for case_id, ref in rows[start:start + chunk]]})
        if rows:
            audit.record(actor=None, action="cases.auto_close", target_type="cases.case", target_id="*",
                         after={"count": len(rows), "cutoff": cutoff.isoformat()})
    return len(rows)


# --- transfer, joint handling, rejection, duplicates -------------------------------------------------

def _check_unit(kind: str, code: str) -> None:
    from modules.registry.models import Community, Department, Grid, Street

    model = {UnitKind.GRID_WORKERS: Grid, UnitKind.COMMUNITY: Community, UnitKind.STREET: Street,
             UnitKind.DEPARTMENT: Department}.get(kind)
    if model is None:
        raise DomainError(_("Transfer to a grid's workers, a community, a street or a department."),
                          fields={"unit_kind": [_("Unknown unit kind.")]})
    if not model.objects.filter(code=code).exists():
        raise DomainError(_("There is no %(kind)s %(code)s.") % {"kind": kind, "code": code},
                          fields={"unit_code": [_("Unknown code.")]})


def transfer_case(*, actor, case: Case, unit_kind: str, unit_code: str, reason: str, now=None) -> Case:
    user = _user(actor)
    now = _now(now)
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Say why the case goes to another unit."), fields={"reason": [_("Required.")]})
    _check_unit(unit_kind, unit_code)
    with transaction.atomic():
        case = _lock(case)
        _require_status(case, ACTION_STATUSES["transfer"], "transfer")
        _require_handler(user, case, "transfer")
        before = {"status": case.status, "unit": f"{case.responsible_kind}:{case.responsible_code}",
                  "assignee": getattr(case.assignee, "username", None)}
        assignee = grid_worker_of(unit_code) if (
            unit_kind == UnitKind.GRID_WORKERS and case.assign_mode == AssignMode.DISPATCH) else None
        case.responsible_kind, case.responsible_code = unit_kind, unit_code
        case.assignee = assignee
        case.status = S.ASSIGNED if assignee else S.SUBMITTED
        if unit_kind == UnitKind.GRID_WORKERS and assignee is None and case.assign_mode == AssignMode.DISPATCH:
            case.assign_mode = AssignMode.GRAB
        case.owner_level = max(case.owner_level, OWNER_LEVEL_OF_UNIT[UnitKind(unit_kind)])
        case.save(update_fields=["responsible_kind", "responsible_code", "assignee", "status", "assign_mode",
                                 "owner_level", "updated_at"])
        after = {"status": case.status, "unit": f"{unit_kind}:{unit_code}",
                 "assignee": getattr(assignee, "username", None)}
        _event(case, kind="transferred", actor=user, at=now, from_status=before["status"], to_status=case.status,
               note=reason, data={"from": before, "to": after})
        audit.record(actor=user, action="cases.transfer", target=case, before=before, after=after)
        _status_event("cases.transferred", case, unit=f"{case.responsible_kind}:{case.responsible_code}")
    return case


def add_participant(*, actor, case: Case, kind: str, user=None, department_code: str = "", now=None
                    ) -> CaseParticipant:
    """Joint handling: a sector grid worker, a mediator or a department joins the case."""
    acting = _user(actor)
    now = _now(now)
    if kind == CaseParticipant.Kind.DEPARTMENT:
        from modules.registry.models import Department

        if not Department.objects.filter(code=department_code).exists():
            raise DomainError(_("There is no department %(c)s.") % {"c": department_code},
                              fields={"department_code": [_("Unknown department.")]})
        user = None
    elif kind in (CaseParticipant.Kind.SECTOR_WORKER, CaseParticipant.Kind.MEDIATOR):
        role = Role.GRID_WORKER_SECTOR if kind == CaseParticipant.Kind.SECTOR_WORKER else Role.MEDIATOR
        if user is None or not has_role(user, role):
            raise DomainError(_("That person is not a %(r)s.") % {"r": Role(role).label},
                              fields={"user": [_("Wrong role.")]})
        department_code = ""
    else:
        raise DomainError(_("Unknown kind of participant."), fields={"kind": [_("Unknown.")]})
    with transaction.atomic():
        case = _lock(case)
        _require_status(case, ACTION_STATUSES["participant"], "add handlers to")
        _require_handler(acting, case, "add handlers to")
        who = user.username if user else department_code
        same = CaseParticipant.objects.filter(case=case)
        same = same.filter(user=user) if user else same.filter(department_code=department_code)
        if same.exists():
            raise Conflict(_("%(who)s already handles this case.") % {"who": who}, code="already_participant")
        participant = CaseParticipant.objects.create(case=case, kind=kind, user=user, department_code=department_code,
                                                     added_at=now, added_by=acting)
        _event(case, kind="joint_handler_added", actor=acting, at=now, from_status=case.status,
               data={"kind": kind, "who": who})
        audit.record(actor=acting, action="cases.add_participant", target=case, after={"kind": kind, "who": who})
    return participant


def reject_case(*, actor, case: Case, reason: str, note: str = "", parent: Case | None = None, now=None) -> Case:
    user = _user(actor)
    now = _now(now)
    if reason not in Case.RejectReason.values:
        raise DomainError(_("A rejection says why: not our responsibility, or duplicate."),
                          fields={"reason": [_("Unknown reason.")]})
    if reason == Case.RejectReason.DUPLICATE:
        if parent is None:
            raise DomainError(_("Name the case this one duplicates."), fields={"parent": [_("Required.")]})
        while parent.parent_id:  # always link to the root
            parent = parent.parent
        if parent.pk == case.pk:
            raise DomainError(_("A case cannot duplicate itself."), fields={"parent": [_("Same case.")]})
    else:
        parent = None
        if not note.strip():
            raise DomainError(_("Say whose responsibility it is, so the reporter knows."),
                              fields={"note": [_("Required.")]})
    with transaction.atomic():
        case = _lock(case)
        _require_status(case, ACTION_STATUSES["reject"], "reject")
        _require_handler(user, case, "reject")
        before = case.status
        case.status, case.reject_reason, case.parent, case.next_escalation_at = S.REJECTED, reason, parent, None
        case.responded_at = case.responded_at or now
        if parent is not None and parent.status in (S.RESOLVED, S.CLOSED):
            case.result = parent.result
        case.save(update_fields=["status", "reject_reason", "parent", "next_escalation_at", "responded_at", "result",
                                 "updated_at"])
        data = {"reason": reason} | ({"parent": parent.ref} if parent else {})
        _event(case, kind="linked_duplicate" if parent else "rejected", actor=user, at=now, from_status=before,
               to_status=S.REJECTED, note=note, data=data)
        if parent is not None:
            _event(parent, kind="duplicate_linked", actor=user, at=now, from_status=parent.status,
                   data={"duplicate": case.ref, "channel": case.channel})
        audit.record(actor=user, action="cases.reject", target=case, before={"status": before}, after=data)
        events.publish("cases.rejected", {"case_id": case.pk, "ref": case.ref, "reason": reason,
                                          "parent_id": parent.pk if parent else None, "channel": case.channel})
    return case


def link_duplicate(*, actor, case: Case, parent: Case, now=None) -> Case:
    """The same problem came in twice (e.g. hotline and snap report): the handler answers the parent once."""
    return reject_case(actor=actor, case=case, reason=Case.RejectReason.DUPLICATE, parent=parent, now=now)


# --- escalation sweep ----------------------------------------------------------------------------------

def escalate_overdue(*, now=None, chunk: int = 1000) -> int:
    """One set-based pass: every open case past its next escalation time moves one owner level up
    (grid worker → community → street → department → district supervision), gets a timeline event,
    and its new owner is notified through ``cases.escalated``. One statement does the move and the
    timeline, so a concurrent sweep cannot move a case twice."""
    now = _now(now)
    step = dt.timedelta(hours=_config().get("escalation_step_hours", 24))
    case_table, event_table = Case._meta.db_table, CaseEvent._meta.db_table
    sql = f"""
        WITH moved AS (
            UPDATE {case_table} SET owner_level = owner_level + 1, escalation_level = escalation_level + 1,
                next_escalation_at = CASE WHEN owner_level + 1 >= %(top)s THEN NULL ELSE %(next)s END,
                updated_at = %(now)s
            WHERE next_escalation_at <= %(now)s AND status = ANY(%(open)s) AND owner_level < %(top)s
            RETURNING id, status, owner_level, assignee_id
        ), timeline AS (
            INSERT INTO {event_table} (case_id, at, actor_id, kind, from_status, to_status, note, data)
            SELECT id, %(now)s, NULL, 'escalated', status, status, '', jsonb_build_object('owner_level', owner_level)
            FROM moved
        )
        SELECT id, owner_level, assignee_id FROM moved
    """  # noqa: S608 - table names from _meta
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql, {"now": now, "next": now + step, "top": int(OwnerLevel.DISTRICT),
                                 "open": [str(s) for s in OPEN]})
            rows = cursor.fetchall()
        for start in range(0, len(rows), chunk):
            events.publish("cases.escalated", {"cases": [
                {"case_id": r[0], "owner_level": OwnerLevel(r[1]).name.lower(), "assignee_id": r[2]}
                for r in rows[start:start + chunk]]})
        if rows:
            audit.record(actor=None, action="cases.escalate", target_type="cases.case", target_id="*",
                         after={"count": len(rows)})
    return len(rows)


# --- reference data: categories, responsibility list, holidays, seed -----------------------------------

def save_category(*, actor, code: str, name_zh: str, name_en: str = "", assign_mode: str = AssignMode.DISPATCH,
                  active: bool = True) -> Category:
    name_zh = clean_name(name_zh, field="name_zh", max_length=Category._meta.get_field("name_zh").max_length)
    name_en = clean_name(name_en, field="name_en", max_length=Category._meta.get_field("name_en").max_length,
                         required=False)
    if assign_mode not in AssignMode.values:
        raise DomainError(_("Assign mode is dispatch or grab."), fields={"assign_mode": [_("Unknown.")]})
    with transaction.atomic():
        category, created = Category.objects.update_or_create(
            code=code, defaults={"name_zh": name_zh, "name_en": name_en, "assign_mode": assign_mode,
                                 "active": active})
        audit.record(actor=actor, action="cases.category.create" if created else "cases.category.update",
                     target=category, after={"code": code, "assign_mode": assign_mode, "active": active})
        selectors.forget_routing()
    return category


def publish_responsibility_list(*, actor, items: list[dict], note: str = "", now=None) -> ResponsibilityList:
    """A new version of the list, made current. ``items``: dicts with category (code or object),
    area_kind, area_code, unit_kind, unit_code, response_amount/unit, resolution_amount/unit.
    Cases already received keep the version they were judged by."""
    now = _now(now)
    if not items:
        raise DomainError(_("A responsibility list needs at least one row."), fields={"items": [_("Empty.")]})
    with transaction.atomic():
        list(ResponsibilityList.objects.select_for_update().values_list("pk", flat=True))
        last = ResponsibilityList.objects.order_by("-version").first()
        before = last.version if last else None
        ResponsibilityList.objects.filter(is_current=True).update(is_current=False)
        rlist = ResponsibilityList.objects.create(version=(before or 0) + 1, is_current=True, published_at=now,
                                                  published_by=_user(actor), note=note[:200])
        rows = []
        for i, raw in enumerate(items):
            row = dict(raw)
            row["category"] = _category(row["category"])
            row.setdefault("area_kind", "district")
            row["area_code"] = "" if row["area_kind"] == "district" else row.get("area_code", "")
            item = ResponsibilityItem(rlist=rlist, **row)
            try:
                item.full_clean(exclude=["rlist"])
            except Exception as exc:
                raise DomainError(_("Row %(i)d of the list is not valid.") % {"i": i + 1},
                                  fields={f"items[{i}]": [str(exc)]}) from exc
            rows.append(item)
        ResponsibilityItem.objects.bulk_create(rows)
        selectors.forget_routing()
        audit.record(actor=actor, action="cases.rlist.publish", target=rlist,
                     before={"version": before}, after={"version": rlist.version, "rows": len(rows)})
    return rlist


def set_holiday(*, actor, date: dt.date, is_working_day: bool = False, name: str = "") -> Holiday:
    name = clean_text(name, field="name", max_length=Holiday._meta.get_field("name").max_length, required=False)
    with transaction.atomic():
        holiday, _created = Holiday.objects.update_or_create(
            date=date, defaults={"is_working_day": is_working_day, "name": name})
        selectors.forget_routing()
        audit.record(actor=actor, action="cases.holiday.set", target=holiday,
                     after={"date": date.isoformat(), "working": is_working_day, "name": name})
    return holiday


DEFAULT_CATEGORIES = [
    # code, zh, en, assign mode
    ("corridor_clutter", "楼道堆物", "Corridor clutter", AssignMode.DISPATCH),
    ("pipe_well", "占用管井", "Occupied pipe wells", AssignMode.DISPATCH),
    ("parking", "乱停乱放", "Disorderly parking", AssignMode.GRAB),
    ("facility_damage", "设施损坏", "Damaged facilities", AssignMode.GRAB),
    ("greenery_damage", "毁绿", "Greenery damage", AssignMode.DISPATCH),
    ("noise", "噪音扰民", "Noise", AssignMode.DISPATCH),
    ("merchant_help", "商户诉求", "Merchant help", AssignMode.DISPATCH),
    ("suggestion", "意见建议", "Suggestion", AssignMode.DISPATCH),
    ("praise", "好人好事", "Praise", AssignMode.DISPATCH),
]

# Examples of the 2026 national holidays (check the State Council's notice; edit them in /admin/):
# the National Day week Oct 1–7 off with make-up working days on Sun Sept 27 and Sat Oct 10.
EXAMPLE_HOLIDAYS_2026 = (
    [(dt.date(2026, 1, d), False, "元旦（示例）") for d in (1, 2)]
    + [(dt.date(2026, 5, d), False, "劳动节（示例）") for d in range(1, 6)]
    + [(dt.date(2026, 10, d), False, "国庆节（示例）") for d in range(1, 8)]
    + [(dt.date(2026, 9, 27), True, "国庆调休上班（示例）"), (dt.date(2026, 10, 10), True, "国庆调休上班（示例）")]
)


def seed(*, template: str, actor=None) -> None:
    """Default categories, a first district-wide responsibility list and example holidays."""
    with transaction.atomic():
        if not Category.objects.exists():
            for code, zh, en, mode in DEFAULT_CATEGORIES:
                save_category(actor=actor, code=code, name_zh=zh, name_en=en, assign_mode=mode)
        if not ResponsibilityList.objects.exists():
            items = []
            for code, *_rest in DEFAULT_CATEGORIES:
                response = (2, "hours") if code == "merchant_help" else (24, "hours")  # respond on receipt
                resolution = (10, "working_days") if code == "suggestion" else (5, "working_days")
                items.append({"category": code, "area_kind": "district", "unit_kind": UnitKind.GRID_WORKERS,
                              "unit_code": "", "response_amount": response[0], "response_unit": response[1],
                              "resolution_amount": resolution[0], "resolution_unit": resolution[1]})
            publish_responsibility_list(actor=actor, items=items, note="默认权责清单（全区）")
        if not Holiday.objects.exists():
            Holiday.objects.bulk_create([Holiday(date=d, is_working_day=w, name=n) for d, w, n in EXAMPLE_HOLIDAYS_2026])
            audit.record(actor=actor, action="cases.holiday.seed", target_type="cases.holiday", target_id="*",
                         after={"count": len(EXAMPLE_HOLIDAYS_2026)})
