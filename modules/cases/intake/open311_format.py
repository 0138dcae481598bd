"""Open311 GeoReport v2 (modules.cases.intake.open311): the reads behind its methods, the request and
service documents, and their rendering as JSON or XML (and Open311 error lists)."""
from __future__ import annotations

import datetime as dt
import json
import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Iterable

from django.db import connection
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpResponse
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from modules.cases.calendar import TZ
from modules.cases.models import Attachment, Case, Category, UnitKind

MAX_RESULTS = 1000
CONTENT_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
PUBLIC_CHANNELS = (Case.Channel.OPEN311, Case.Channel.SNAP)
OPEN_STATUSES = [s.value for s in Case.OPEN]
CLOSED_STATUSES = [Case.Status.RESOLVED.value, Case.Status.CLOSED.value, Case.Status.REJECTED.value]
OPEN311_STATUSES = {"open": OPEN_STATUSES, "closed": CLOSED_STATUSES}


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
