"""Open311 GeoReport v2 for the cases module (http://wiki.open311.org/GeoReport_v2).

Every district host serves its own endpoint: discovery at ``/open311/discovery.{json,xml}``, the
GeoReport methods under ``/open311/v2/``. One jurisdiction per endpoint, so ``jurisdiction_id`` is
optional; when given it must name this district (its host, one of its domains, or its slug), else 404.

- services = the district's active case categories (service_code = category code); no attributes.
- POST requests needs the ``api_key`` of an Integration of kind "open311" (the district admin makes
  one); it files the case through ``services.submit_case`` (channel "open311"). Requests are
  ``realtime``: the answer carries ``service_request_id`` (the case ref) and, as the spec asks, no
  token. The token of a request *is* its ref, so ``tokens/<ref>`` answers too.
- GET requests shows public-safe fields only (no reporter, no contact, no household), and only cases
  of ``PUBLIC_CHANNELS``: what came in through Open311 and resident snap reports of public places.
  Outdoor-code reports (which name a household), merchant requests, suggestions, hotline and mailbox
  cases stay private. status: submitted/assigned/accepted/in_progress → open;
  resolved/closed/rejected → closed (no further action unless the reporter reopens).
- Errors are Open311 error lists ``[{code, description}]`` / ``<errors><error>…``, never the platform
  error shape. Datetimes are W3C with the Asia/Shanghai offset.

Reads (selectors) and serialization live here beside the thin views; writes go through services."""
from __future__ import annotations

import datetime as dt
import functools
import json
import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Iterable

from django.db import connection
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpResponse, QueryDict
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.cache import patch_vary_headers
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from kernel.errors import DomainError
from modules.cases import integrations, services
from modules.cases.calendar import END_OF_DAY, TZ
from modules.cases.models import TITLE_MAX, Attachment, Case, Category, Integration, UnitKind

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CONTENT_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
FORMATS = ["application/json", "text/xml"]
MAX_RESULTS = 1000
WINDOW = dt.timedelta(days=90)

PUBLIC_CHANNELS = (Case.Channel.OPEN311, Case.Channel.SNAP)
OPEN_STATUSES = [s.value for s in Case.OPEN]
CLOSED_STATUSES = [Case.Status.RESOLVED.value, Case.Status.CLOSED.value, Case.Status.REJECTED.value]
OPEN311_STATUSES = {"open": OPEN_STATUSES, "closed": CLOSED_STATUSES}

# Open311 parameter names of the fields submit_case reports errors on.
PARAM_OF_FIELD = {"latitude": "lat", "longitude": "long", "contact": "phone", "address": "address_string",
                  "title": "description", "category": "service_code", "compound": "address_id"}


class Open311Error(Exception):
    """One Open311 error response: an HTTP status and one or more descriptions."""

    def __init__(self, status: int, *descriptions: str, headers: dict | None = None):
        super().__init__(descriptions[0] if descriptions else "")
        self.status = status
        self.descriptions = list(descriptions)
        self.headers = headers or {}


# --- selectors ------------------------------------------------------------------------------------

def service_categories() -> QuerySet:
    return Category.objects.filter(active=True).order_by("code")


def service_category(code: str) -> Category | None:
    return service_categories().filter(code=code).first()


def services_changed_at() -> dt.datetime:
    """When the service list last changed (a category saved), else when the district was made."""
    from kernel.models import AuditEntry

    entry = AuditEntry.objects.filter(action__startswith="cases.category.").order_by("-at").first()
    if entry is not None:
        return entry.at
    return getattr(connection.tenant, "created_at", None) or timezone.now()


def public_requests() -> QuerySet:
    """The cases Open311 shows, newest first, with the first report photo's id as ``media_id``."""
    first_media = (Attachment.objects.filter(case=OuterRef("pk"), stage=Attachment.Stage.REPORT)
                   .order_by("uploaded_at", "id").values("pk")[:1])
    return (Case.objects.filter(channel__in=PUBLIC_CHANNELS)
            .select_related("category", "compound", "parent")
            .annotate(media_id=Subquery(first_media))
            .order_by("-submitted_at", "-id"))


def find_requests(*, ids: list[str] | None = None, service_codes: list[str] | None = None,
                  statuses: list[str] | None = None, start: dt.datetime | None = None,
                  end: dt.datetime | None = None, limit: int = MAX_RESULTS) -> list[Case]:
    """GET requests: ``ids`` (refs) override every other filter; otherwise requested between
    ``start`` and ``end``, of the given service codes and Open311 statuses (open / closed)."""
    qs = public_requests()
    if ids:
        return list(qs.filter(ref__in=ids)[:limit])
    if service_codes:
        qs = qs.filter(category__code__in=service_codes)
    if statuses:
        qs = qs.filter(status__in=[s for name in statuses for s in OPEN311_STATUSES[name]])
    if start is not None:
        qs = qs.filter(submitted_at__gte=start)
    if end is not None:
        qs = qs.filter(submitted_at__lte=end)
    return list(qs[:limit])


def public_request(ref: str) -> Case | None:
    return public_requests().filter(ref=ref).first()


def unit_names(cases: Iterable[Case]) -> dict[tuple[str, str], str]:
    """Display names of the cases' responsible units: {(unit_kind, unit_code): name}, one query per kind."""
    from modules.registry.models import Community, Department, Grid, Street

    wanted: dict[str, set[str]] = defaultdict(set)
    for case in cases:
        wanted[case.responsible_kind].add(case.responsible_code)
    models = {UnitKind.GRID_WORKERS: Grid, UnitKind.COMMUNITY: Community, UnitKind.STREET: Street,
              UnitKind.DEPARTMENT: Department}
    names: dict[tuple[str, str], str] = {}
    for kind, model in models.items():
        codes = wanted.get(kind.value)
        if codes:
            for code, name in model.objects.filter(code__in=codes).values_list("code", "name"):
                names[(kind.value, code)] = name
    return names


# --- serialization --------------------------------------------------------------------------------

def w3c(value: dt.datetime | None) -> str | None:
    """W3C datetime with the district's offset, e.g. 2026-09-30T10:00:00+08:00."""
    if value is None:
        return None
    return timezone.localtime(value, TZ).isoformat(timespec="seconds")


def _english() -> bool:
    return (translation.get_language() or "").startswith("en")


def service_name(category: Category) -> str:
    return (category.name_en or category.name_zh) if _english() else category.name_zh


def service_dict(category: Category) -> dict:
    from modules.cases.spec import SPEC

    keywords = [category.code, category.name_zh, category.name_en]
    return {
        "service_code": category.code,
        "service_name": service_name(category),
        "description": _("Report a problem of the kind “%(name)s”: it goes to the unit responsible under the "
                         "district's responsibility list.") % {"name": service_name(category)},
        "metadata": False,
        "type": "realtime",
        "keywords": ", ".join(k for k in keywords if k),
        "group": SPEC.name_en if _english() else SPEC.name_zh,
    }


def definition_dict(category: Category) -> dict:
    return {"service_code": category.code, "attributes": []}


def agency_name(case: Case, names: dict[tuple[str, str], str]) -> str:
    if case.responsible_kind == UnitKind.DISTRICT:
        return str(UnitKind.DISTRICT.label)
    return names.get((case.responsible_kind, case.responsible_code), case.responsible_code)


def open311_status(case: Case) -> str:
    return "open" if case.status in OPEN_STATUSES else "closed"


def status_notes(case: Case) -> str:
    if case.status == Case.Status.REJECTED:
        if case.reject_reason == Case.RejectReason.DUPLICATE and case.parent_id:
            return _("Duplicate of %(ref)s.") % {"ref": case.parent.ref}
        return str(Case.RejectReason(case.reject_reason).label) if case.reject_reason else ""
    if case.status in (Case.Status.RESOLVED, Case.Status.CLOSED):
        return case.result or str(Case.Status(case.status).label)
    return str(Case.Status(case.status).label)


def service_notice(case: Case, agency: str) -> str:
    due = timezone.localtime(case.resolution_due, TZ)
    return _("%(agency)s handles this request; the time limit is %(due)s.") % {
        "agency": agency, "due": f"{due:%Y-%m-%d %H:%M}"}


def updated_at(case: Case) -> dt.datetime:
    """For a closed request, when it was closed (the spec); else the last change."""
    if case.status == Case.Status.CLOSED and case.closed_at:
        return case.closed_at
    if case.status == Case.Status.RESOLVED and case.resolved_at:
        return case.resolved_at
    return case.updated_at


def _number(value) -> float | None:
    return None if value is None else float(value)


def _attachment_path(case_pk: int, attachment_pk: int) -> str:
    """The API address of a case file (it answers those who may see the case)."""
    try:
        return reverse("api-cases:attachment", kwargs={"pk": case_pk, "attachment_id": attachment_pk})
    except NoReverseMatch:
        return f"/api/v1/cases/{case_pk}/attachments/{attachment_pk}/"


def request_dict(case: Case, *, names: dict[tuple[str, str], str], request) -> dict:
    """One service request, public-safe fields only, in the spec's order."""
    agency = agency_name(case, names)
    media_id = getattr(case, "media_id", None)
    # our stored copy of the first report photo, else the link the reporter gave
    media_url = request.build_absolute_uri(_attachment_path(case.pk, media_id)) if media_id else case.media_url or None
    address = case.address or (case.compound.name if case.compound_id else "")
    return {
        "service_request_id": case.ref,
        "status": open311_status(case),
        "status_notes": status_notes(case) or None,
        "service_name": service_name(case.category),
        "service_code": case.category.code,
        "description": case.description or case.title or None,
        "agency_responsible": agency or None,
        "service_notice": service_notice(case, agency),
        "requested_datetime": w3c(case.submitted_at),
        "updated_datetime": w3c(updated_at(case)),
        "expected_datetime": w3c(case.resolution_due),
        "address": address or None,
        "address_id": case.compound.code if case.compound_id else None,
        "zipcode": None,
        "lat": _number(case.latitude),
        "long": _number(case.longitude),
        "media_url": media_url,
    }


# --- rendering ------------------------------------------------------------------------------------

# Spark convention: a JSON list inside an object is a wrapper element holding one element per item.
LIST_ITEMS = {"endpoints": "endpoint", "formats": "format", "attributes": "attribute", "values": "value"}
# Characters XML 1.0 cannot carry at all (control characters other than tab and line breaks).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("", str(value))


def _xml_fill(parent: ET.Element, tag: str, value) -> None:
    element = ET.SubElement(parent, tag)
    if isinstance(value, dict):
        for key, item in value.items():
            _xml_fill(element, key, item)
    elif isinstance(value, list):
        for item in value:
            _xml_fill(element, LIST_ITEMS[tag], item)
    else:
        text = _xml_text(value)
        if text:
            element.text = text


def to_xml(root: str, data, item: str | None = None) -> bytes:
    """The document as XML: a list becomes <root><item>…</item>…</root>, an object <root><field>…</root>."""
    element = ET.Element(root)
    if isinstance(data, list):
        for entry in data:
            _xml_fill(element, item, entry)
    else:
        for key, value in data.items():
            _xml_fill(element, key, value)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(element, encoding="unicode").encode()


def render(fmt: str, data, *, root: str, item: str | None = None, status: int = 200) -> HttpResponse:
    if fmt == "xml":
        body = to_xml(root, data, item)
    else:
        body = json.dumps(data, ensure_ascii=False).encode()
    return HttpResponse(body, status=status, content_type=CONTENT_TYPES[fmt])


def error_response(fmt: str, status: int, descriptions: list[str], headers: dict | None = None) -> HttpResponse:
    errors = [{"code": status, "description": d} for d in descriptions]
    response = render(fmt, errors, root="errors", item="error", status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def error_page(request, status: int = 404) -> HttpResponse:
    """An Open311 error for a path under /open311/ that no view answered (format from the extension)."""
    fmt = "json" if request.path.endswith(".json") else "xml"
    with translation.override(translation.get_language_from_request(request)):
        description = _("Not found: there is no such Open311 resource on this district's endpoint.")
        return error_response(fmt, status, [description])


# --- request parsing ------------------------------------------------------------------------------

def _many(params, name: str) -> list[str]:
    """A parameter that may be given several times and/or comma-delimited."""
    return [part.strip() for raw in params.getlist(name) for part in raw.split(",") if part.strip()]


def _when(raw: str, name: str, *, end: bool = False) -> dt.datetime | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    if "T" in raw and " " in raw:
        raw = raw.replace(" ", "+")  # an unencoded "+08:00" in a query string arrives as " 08:00"
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):  # a whole day: from its start, or to its end
            value = dt.datetime.combine(parse_date(raw), END_OF_DAY if end else dt.time.min)
        else:
            value = parse_datetime(raw)
    except (TypeError, ValueError):
        value = None
    if value is None:
        raise Open311Error(400, _("%(name)s is not a W3C datetime (e.g. 2026-09-30T10:00:00+08:00).")
                           % {"name": name})
    return value if timezone.is_aware(value) else value.replace(tzinfo=TZ)


def _jurisdictions(request) -> set[str]:
    district = connection.tenant
    names = {request.get_host().split(":")[0].lower(), district.slug}
    names.update(d.lower() for d in district.domains.values_list("domain", flat=True))
    return names


def _check_jurisdiction(request, params) -> None:
    jurisdiction = (params.get("jurisdiction_id") or request.GET.get("jurisdiction_id") or "").strip()
    if jurisdiction and jurisdiction.lower() not in _jurisdictions(request):
        raise Open311Error(404, _("jurisdiction_id %(j)s was not found: this endpoint serves %(host)s only.")
                           % {"j": jurisdiction, "host": request.get_host().split(":")[0]})


def _throttle(request) -> None:
    """The API's throttles (anonymous callers per address and district, signed-in users per user)."""
    from kernel.api import AnonThrottle, UserThrottle

    waits = []
    for throttle in (AnonThrottle(), UserThrottle()):
        if not throttle.allow_request(request, None):
            waits.append(throttle.wait())
    if waits:
        wait = max((w for w in waits if w is not None), default=None)
        headers = {"Retry-After": str(int(wait) + 1)} if wait is not None else {}
        raise Open311Error(429, _("Too many requests; try again later."), headers=headers)


def _post_params(request):
    """Form-encoded or multipart (what 311 clients send); a JSON object is accepted too."""
    if (request.content_type or "").startswith("application/json"):
        try:
            data = json.loads(request.body or b"{}")
        except ValueError as exc:
            raise Open311Error(400, _("The request body is not valid JSON.")) from exc
        if not isinstance(data, dict):
            raise Open311Error(400, _("The request body is not valid JSON."))
        params = QueryDict(mutable=True)
        for key, value in data.items():
            params[key] = "" if value is None else str(value)
        return params
    return request.POST


# --- views ----------------------------------------------------------------------------------------

def open311_view(*methods: str, jurisdiction: bool = True):
    """Open311 plumbing around a view: method check, throttles, jurisdiction, the request's language
    (Accept-Language; Chinese by default), and Open311 errors in the requested format."""
    allowed = {*methods, "HEAD"} if "GET" in methods else set(methods)

    def decorate(view):
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request, fmt: str = "xml", **kwargs):
            with translation.override(translation.get_language_from_request(request)):
                try:
                    if request.method not in allowed:
                        raise Open311Error(405, _("Method %(m)s is not allowed here.") % {"m": request.method},
                                           headers={"Allow": ", ".join(sorted(allowed))})
                    _throttle(request)
                    if jurisdiction:
                        _check_jurisdiction(request, request.POST if request.method == "POST" else request.GET)
                    response = view(request, fmt, **kwargs)
                except Open311Error as exc:
                    response = error_response(fmt, exc.status, exc.descriptions, exc.headers)
                response["Content-Language"] = translation.get_language()
            patch_vary_headers(response, ("Accept-Language",))
            return response

        return wrapper

    return decorate


def discovery_document(request) -> dict:
    district = connection.tenant
    name = (district.name_en or district.name_zh) if _english() else district.name_zh
    changed = w3c(services_changed_at())
    endpoint = request.build_absolute_uri(reverse(f"{request.resolver_match.namespace}:v2-root"))
    return {
        "changeset": changed,
        "contact": _("Contact the administrator of %(district)s through the district's site: %(url)s")
        % {"district": name, "url": request.build_absolute_uri("/")},
        "key_service": _("API keys are issued by the administrator of %(district)s: they create an Open311 "
                         "integration for your client and hand you its key.") % {"district": name},
        "endpoints": [{"specification": SPECIFICATION, "url": endpoint, "changeset": changed, "type": "production",
                       "formats": FORMATS}],
    }


@open311_view("GET", jurisdiction=False)
def discovery(request, fmt):
    return render(fmt, discovery_document(request), root="discovery")


@open311_view("GET", jurisdiction=False)
def v2_root(request, fmt):
    """The endpoint's root answers the discovery document (XML), as the Service Discovery page suggests."""
    return render(fmt, discovery_document(request), root="discovery")


@open311_view("GET")
def service_list(request, fmt):
    return render(fmt, [service_dict(c) for c in service_categories()], root="services", item="service")


@open311_view("GET")
def service_definition(request, fmt, service_code: str):
    category = service_category(service_code)
    if category is None:
        raise Open311Error(404, _("service_code %(code)s was not found.") % {"code": service_code})
    return render(fmt, definition_dict(category), root="service_definition")


def _requests_response(request, fmt, cases: list[Case]) -> HttpResponse:
    names = unit_names(cases)
    return render(fmt, [request_dict(c, names=names, request=request) for c in cases],
                  root="service_requests", item="request")


@open311_view("GET", "POST")
def requests_view(request, fmt):
    if request.method == "POST":
        return create_request(request, fmt)
    params = request.GET
    ids = _many(params, "service_request_id")
    if ids:
        return _requests_response(request, fmt, find_requests(ids=ids[:MAX_RESULTS]))
    statuses = [s.lower() for s in _many(params, "status")]
    unknown = [s for s in statuses if s not in OPEN311_STATUSES]
    if unknown:
        raise Open311Error(400, _("status is open or closed, not %(s)s.") % {"s": ", ".join(unknown)})
    start = _when(params.get("start_date", ""), "start_date")
    end = _when(params.get("end_date", ""), "end_date", end=True)
    if start is None and end is None:
        end = timezone.now()
        start = end - WINDOW
    elif start is None:
        start = end - WINDOW
    elif end is None:
        end = start + WINDOW
    if start > end:
        raise Open311Error(400, _("start_date is after end_date."))
    if end - start > WINDOW + dt.timedelta(days=1):
        raise Open311Error(400, _("start_date and end_date may not span more than 90 days."))
    cases = find_requests(service_codes=_many(params, "service_code"), statuses=statuses, start=start, end=end)
    return _requests_response(request, fmt, cases)


@open311_view("GET")
def request_detail(request, fmt, service_request_id: str):
    case = public_request(service_request_id)
    if case is None:
        raise Open311Error(404, _("service_request_id %(id)s was not found.") % {"id": service_request_id})
    return _requests_response(request, fmt, [case])


@open311_view("GET")
def token_detail(request, fmt, token: str):
    """Tokens are the requests' refs (requests are realtime, so POST answers with the id directly)."""
    case = public_request(token)
    if case is None:
        raise Open311Error(404, _("token %(token)s was not found.") % {"token": token})
    return render(fmt, [{"service_request_id": case.ref, "token": case.ref}], root="service_requests",
                  item="request")


def _title(description: str, category: Category) -> str:
    first_line = next((line.strip() for line in description.splitlines() if line.strip()), "")
    if not first_line:
        return category.name_zh
    return first_line if len(first_line) <= TITLE_MAX else first_line[:TITLE_MAX - 1] + "…"


def _integration(params, request) -> Integration:
    raw = (params.get("api_key") or request.GET.get("api_key") or "").strip()
    if not raw:
        raise Open311Error(403, _("api_key was not provided -- can't proceed with create_request."))
    integration = integrations.authenticate(raw)
    if integration is None:
        raise Open311Error(403, _("Invalid api_key received -- can't proceed with create_request."))
    if integration.kind != Integration.Kind.OPEN311:
        raise Open311Error(403, _("This api_key is not an Open311 key -- can't proceed with create_request."))
    return integration


def _location(params) -> dict:
    """lat+long, address_string or address_id (a compound code of the registry); 400 when none is complete."""
    from modules.registry.models import Compound

    lat, lng = (params.get("lat") or "").strip(), (params.get("long") or "").strip()
    address = (params.get("address_string") or "").strip()
    address_id = (params.get("address_id") or "").strip()
    errors = []
    if bool(lat) != bool(lng):
        errors.append(_("Send both lat and long."))
    if not (lat and lng) and not address and not address_id:
        errors.append(_("A location was not provided: send lat and long, address_string or address_id."))
    if errors:
        raise Open311Error(400, *errors)
    out = {"latitude": lat or None, "longitude": lng or None, "address": address}
    if address_id:
        compound = Compound.objects.filter(code=address_id).select_related("grid").first()
        if compound is None:
            raise Open311Error(400, _("address_id %(id)s was not found: give the code of one of the district's "
                                      "compounds.") % {"id": address_id})
        out["compound"] = compound
        if not address:
            out["address"] = compound.name
    return out


def create_request(request, fmt):
    """POST requests: authenticate the Open311 key, check the fields, file the case (one transaction
    in submit_case: an error leaves nothing behind)."""
    params = _post_params(request)
    if params is not request.POST:
        _check_jurisdiction(request, params)
    integration = _integration(params, request)
    code = (params.get("service_code") or "").strip()
    missing = [] if code else [_("service_code was not provided.")]
    try:
        location = _location(params)
    except Open311Error as exc:
        raise Open311Error(400, *missing, *exc.descriptions) from None
    if missing:
        raise Open311Error(400, *missing)
    category = service_category(code)
    if category is None:
        raise Open311Error(404, _("service_code %(code)s was not found.") % {"code": code})
    description = (params.get("description") or "").strip()
    media_url = (params.get("media_url") or "").strip()
    title = _title(description, category)
    try:
        case = services.submit_case(
            actor=None, channel=Case.Channel.OPEN311, integration=integration, category=category, title=title,
            description=description, contact=(params.get("phone") or "").strip(), media_url=media_url, **location)
    except DomainError as exc:
        status = exc.status if exc.status in (403, 404) else 400
        if exc.fields:
            descriptions = [f"{PARAM_OF_FIELD.get(field, field)}: {message}"
                            for field, messages in exc.fields.items() for message in messages]
        else:
            descriptions = [exc.message]
        raise Open311Error(status, *descriptions) from None
    agency = agency_name(case, unit_names([case]))
    data = [{"service_request_id": case.ref, "service_notice": service_notice(case, agency), "account_id": None}]
    return render(fmt, data, root="service_requests", item="request", status=201)


@csrf_exempt
def not_found(request, rest: str = ""):
    return error_page(request, 404)
