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

Reads and serialization are in ``open311_format``; writes go through services."""
from __future__ import annotations

import datetime as dt
import functools
import json
import re

from django.db import connection
from django.http import HttpResponse, QueryDict
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.cache import patch_vary_headers
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from kernel.errors import DomainError
from modules.cases import services
from modules.cases.calendar import END_OF_DAY, TZ
from modules.cases.intake import integrations
from modules.cases.intake.open311_format import (  # noqa: F401 - error_page: config.common_urls
    MAX_RESULTS,
    OPEN311_STATUSES,
    _english,
    agency_name,
    definition_dict,
    error_page,
    error_response,
    find_requests,
    public_request,
    render,
    request_dict,
    service_categories,
    service_category,
    service_dict,
    service_notice,
    services_changed_at,
    unit_names,
    w3c,
)
from modules.cases.models import TITLE_MAX, Case, Category, Integration

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
FORMATS = ["application/json", "text/xml"]
WINDOW = dt.timedelta(days=90)


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
