"""Intake of a case from every channel (``submit_case``: the pages, the API, Open311, integrations):
checked, routed by the responsibility list, numbered, in one transaction with its audit entry and event;
a retried submission with the same idempotency key returns the first case."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, connection, transaction
from django.utils.translation import gettext as _

from kernel import audit, events, idempotency
from kernel.errors import DomainError, NotAllowed
from kernel.permissions import acting_user as _user
from kernel.permissions import has_role
from kernel.personal import blind_index, encrypt, normalize_phone
from kernel.roles import Role
from kernel.text import text_problem
from modules.cases import selectors
from modules.cases.calendar import local_date
from modules.cases.intake import uploads
from modules.cases.models import (
    ADDRESS_MAX,
    DESCRIPTION_MAX,
    MEDIA_URL_MAX,
    TITLE_MAX,
    AssignMode,
    Attachment,
    Case,
    CaseEvent,
    RefCounter,
    UnitKind,
)
from modules.cases.services.common import (
    HOUSEHOLD_CHANNELS,
    INTEGRATION_CHANNELS,
    OWNER_LEVEL_OF_UNIT,
    S,
    _category,
    _config,
    _now,
    grid_worker_of,
)


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


def submit_case_with_files(*, actor, files=(), prepared=None, max_files: int | None = None, **values) -> Case:
    """``submit_case`` with the reporter's photos or video, as the page and the API both send it. The
    files are checked before anything is written; the case and its files are stored in one
    transaction (a file that cannot be stored undoes the case, and leaves no stray file). A retried
    submission (the same idempotency key: the API's Idempotency-Key, the page form's token) returns the
    first case with its first files and stores nothing new. ``prepared``: files already checked
    (``uploads.prepare``; the report page's kept photos with the new ones) instead of ``files``."""
    if prepared is None:
        prepared = uploads.prepare(files, max_files=max_files or uploads.MAX_FILES) if files else []
    with uploads.atomic():
        case = submit_case(actor=actor, **values)
        if prepared and idempotency.created(case):
            uploads.attach(actor=actor, case=case, prepared=prepared, stage=Attachment.Stage.REPORT, trusted=True)
    return case
