"""District settings of the cases module (district admins): the responsibility list (current version,
history, edit in a table or upload a spreadsheet → a new version), categories, the holiday calendar and
integrations; and the figures page (district admins and community staff, within their scope).

Thin: parse the form, call ``services`` / ``integrations`` (writes) or ``selectors`` /
``figures`` (reads), render. A bad form comes back with its errors and status 400; nothing is saved."""
from __future__ import annotations

import datetime as dt
import json

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from kernel.errors import DomainError
from kernel.permissions import role_required
from kernel.roles import Role
from modules.cases import figures as figures_reads
from modules.cases import selectors, services
from modules.cases.calendar import local_date
from modules.cases.intake import integrations
from modules.cases.models import (
    AreaKind,
    AssignMode,
    Case,
    Category,
    Holiday,
    Integration,
    LimitUnit,
    ResponsibilityItem,
    ResponsibilityList,
    UnitKind,
    WebhookDelivery,
)
from modules.cases.services import holiday_rows, rlist_rows

admin_only = role_required(Role.DISTRICT_ADMIN)
EXTRA_ROWS = 3


def _raise_if_forbidden(exc: DomainError) -> None:
    if exc.status == 403:
        raise PermissionDenied(exc.message)
    if exc.status == 404:
        raise Http404(exc.message)


def _file_response(content: bytes, filename: str, content_type: str = rlist_rows.XLSX_TYPE) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    response["Cache-Control"] = "private, no-store"
    return response


def _errors(exc: DomainError) -> list[str]:
    """The messages to show: one per bad row or line (in order), else the error's own message."""
    rows = [m for key, msgs in (exc.fields or {}).items() if key.startswith(("row ", "line ")) for m in msgs]
    return rows or [exc.message]


# --- the responsibility list -----------------------------------------------------------------------

def _place_names() -> dict:
    from modules.registry.models import Community, Department, Grid, Street

    return {"street": dict(Street.objects.values_list("code", "name")),
            "community": dict(Community.objects.values_list("code", "name")),
            "grid": dict(Grid.objects.values_list("code", "name")),
            "grid_workers": dict(Grid.objects.values_list("code", "name")),
            "department": dict(Department.objects.values_list("code", "name"))}


def _item_rows(items, names: dict) -> list[dict]:
    rows = []
    for item in items:
        rows.append({
            "item": item,
            "area_name": names.get(item.area_kind, {}).get(item.area_code, ""),
            "unit_name": names.get(item.unit_kind, {}).get(item.unit_code, ""),
        })
    return rows


def _history():
    versions = list(ResponsibilityList.objects.select_related("published_by").order_by("-version"))
    items = dict(ResponsibilityItem.objects.values("rlist").annotate(n=Count("id")).values_list("rlist", "n"))
    cases = dict(Case.objects.filter(rlist__isnull=False).values("rlist").annotate(n=Count("id"))
                 .values_list("rlist", "n"))
    return [{"rlist": v, "items": items.get(v.pk, 0), "cases": cases.get(v.pk, 0)} for v in versions]


def _rlist_page(request, *, shown: ResponsibilityList | None, errors: list[str] | None = None, status: int = 200,
                note: str = ""):
    names = _place_names()
    items = selectors.rlist_items(shown) if shown else []
    listed = {i.category_id for i in items}
    uncovered = [c for c in Category.objects.filter(active=True) if c.pk not in listed] if shown else []
    return render(request, "cases/settings/rlist.html", {
        "tab": "rlist", "shown": shown, "current": selectors.current_rlist(), "rows": _item_rows(items, names),
        "history": _history(), "errors": errors or [], "note": note, "uncovered": uncovered,
        "columns": rlist_rows.RLIST_COLUMNS, "max_mb": rlist_rows.MAX_UPLOAD_BYTES // 2**20,
    }, status=status)


@admin_only
@require_GET
def settings_home(request):
    return _rlist_page(request, shown=selectors.current_rlist())


@admin_only
@require_GET
def rlist_version(request, version: int):
    return _rlist_page(request, shown=get_object_or_404(ResponsibilityList, version=version))


@admin_only
@require_GET
def rlist_template(request):
    version = request.GET.get("version")
    rlist = (get_object_or_404(ResponsibilityList, version=version) if version and version.isdigit()
             else selectors.current_rlist())
    name = f"权责清单-v{rlist.version}.xlsx" if rlist else "权责清单模板.xlsx"
    return _file_response(rlist_rows.rlist_workbook(rlist), name)


def _posted_rows(post) -> list[dict]:
    """The edit table's rows in order, each with its number as shown, its values and whether it is
    deleted or blank. The page's script sends the table as one JSON field ``rows_json`` (a long list
    would pass Django's limit on the number of form fields); without script each cell is ``r-<i>-<field>``."""
    raw = []
    if post.get("rows_json"):
        try:
            data = json.loads(post["rows_json"])
        except ValueError:
            data = None
        if not isinstance(data, list) or not all(isinstance(r, dict) and isinstance(r.get("values"), dict)
                                                 for r in data):
            raise DomainError(_("The table could not be read; reload the page and try again."),
                              fields={"rows": [_("Not readable.")]})
        for position, row in enumerate(data):
            index = row.get("index")
            raw.append((index if isinstance(index, int) and index >= 0 else position,
                        {f: str(row["values"].get(f) or "") for f in rlist_rows.RLIST_FIELDS}, row.get("deleted") is True))
    else:
        indices = sorted({int(k.split("-")[1]) for k in post if k.startswith("r-") and k.split("-")[1].isdigit()})
        raw = [(i, {f: post.get(f"r-{i}-{f}", "") for f in rlist_rows.RLIST_FIELDS}, post.get(f"r-{i}-delete") == "1")
               for i in indices]
    rows = []
    for number, (index, values, deleted) in enumerate(raw, start=1):
        values = {f: v.strip() for f, v in values.items()}
        blank = not any(values[f] for f in ("category", "area_code", "unit_code", "response_amount",
                                           "resolution_amount"))
        rows.append({"number": number, "index": index, "values": values, "deleted": deleted, "blank": blank})
    return rows


def _blank_row(index: int) -> dict:
    return {"index": index, "deleted": False, "blank": True,
            "values": {"category": "", "area_kind": "district", "area_code": "", "unit_kind": "grid_workers",
                       "unit_code": "", "response_amount": "", "response_unit": "hours", "resolution_amount": "",
                       "resolution_unit": "working_days"}}


def _edit_context(rows: list[dict], *, base: ResponsibilityList | None, note: str = "", errors=None,
                  bad_rows=()) -> dict:
    """The table as shown: ``rows`` in order (numbered as the form posts them), then blank rows."""
    from modules.registry.models import Community, Department, Grid, Street

    trailing = 0
    for row in reversed(rows):
        if not row["blank"]:
            break
        trailing += 1
    start = max([r["index"] for r in rows] or [-1]) + 1
    extra = max(0, EXTRA_ROWS - trailing)
    shown = rows + [_blank_row(start + n) for n in range(extra)]
    for number, row in enumerate(shown, start=1):
        row["number"] = number
        row["bad"] = number in bad_rows
    return {
        "tab": "rlist", "rows": shown, "next_index": start + extra, "base": base, "note": note,
        "errors": errors or [], "categories": Category.objects.order_by("code"),
        "area_kinds": AreaKind.choices, "unit_kinds": [(k, UnitKind(k).label) for k in rlist_rows.LIST_UNIT_KINDS],
        "limit_units": LimitUnit.choices,
        "places": [("street", s) for s in Street.objects.order_by("code")]
        + [("community", c) for c in Community.objects.order_by("code")]
        + [("grid", g) for g in Grid.objects.order_by("code")],
        "departments": Department.objects.order_by("code"),
    }


@admin_only
@require_http_methods(["GET", "POST"])
def rlist_edit(request):
    """Start from the current list (or ``?from=<version>``), change, add or remove rows, publish."""
    if request.method == "POST":
        note = request.POST.get("note", "")
        try:
            posted = _posted_rows(request.POST)
        except DomainError as exc:
            return render(request, "cases/settings/rlist_edit.html",
                          _edit_context([], base=selectors.current_rlist(), note=note, errors=_errors(exc)), status=400)
        live = [r for r in posted if not r["deleted"] and not r["blank"]]
        try:
            rlist = services.publish_list(actor=request.user, rows=[(r["number"], r["values"]) for r in live], note=note)
        except DomainError as exc:
            _raise_if_forbidden(exc)
            bad = {int(k.split()[1]) for k in exc.fields if k.startswith("row ")}
            return render(request, "cases/settings/rlist_edit.html",
                          _edit_context(posted, base=selectors.current_rlist(), note=note, errors=_errors(exc),
                                        bad_rows=bad), status=400)
        messages.success(request, _("Published version v%(v)d of the responsibility list (%(n)d rows).")
                         % {"v": rlist.version, "n": rlist.items.count()})
        return redirect("cases:settings")
    source = request.GET.get("from", "")
    base = (get_object_or_404(ResponsibilityList, version=source) if source.isdigit()
            else selectors.current_rlist())
    items = selectors.rlist_items(base) if base else []
    rows = [{"index": i, "deleted": False, "blank": False, "values": {
        "category": item.category.code, "area_kind": item.area_kind, "area_code": item.area_code,
        "unit_kind": item.unit_kind, "unit_code": item.unit_code, "response_amount": str(item.response_amount),
        "response_unit": item.response_unit, "resolution_amount": str(item.resolution_amount),
        "resolution_unit": item.resolution_unit}} for i, item in enumerate(items)]
    note = "" if base is None or base.is_current else _("Restored from version v%(v)d") % {"v": base.version}
    return render(request, "cases/settings/rlist_edit.html", _edit_context(rows, base=base, note=note))


@admin_only
@require_POST
def rlist_upload(request):
    upload = request.FILES.get("file")
    note = request.POST.get("note", "")
    try:
        if upload is None:
            raise DomainError(_("Choose the spreadsheet (.xlsx) to upload."), fields={"file": [_("Required.")]})
        rows = rlist_rows.read_rlist_xlsx(upload.read())
        rlist = services.publish_list(actor=request.user, rows=rows,
                                      note=note or _("Uploaded from %(name)s") % {"name": upload.name[:120]})
    except DomainError as exc:
        _raise_if_forbidden(exc)
        return _rlist_page(request, shown=selectors.current_rlist(), errors=_errors(exc), status=400, note=note)
    messages.success(request, _("Published version v%(v)d of the responsibility list (%(n)d rows).")
                     % {"v": rlist.version, "n": rlist.items.count()})
    return redirect("cases:settings")


# --- categories ---------------------------------------------------------------------------------------

@admin_only
@require_http_methods(["GET", "POST"])
def categories(request):
    errors, status, form = [], 200, {}
    if request.method == "POST":
        fields = {f: request.POST.get(f, "") for f in ("code", "name_zh", "name_en", "assign_mode")}
        new = request.POST.get("action") == "add"
        form = fields if new else {}  # the add form shows what was typed; an edit row shows the saved values
        try:
            category = services.save_category(actor=request.user, new=new, active=request.POST.get("active") == "1",
                                              **fields)
            messages.success(request, _("Saved category %(name)s.") % {"name": category.name_zh})
            return redirect("cases:settings-categories")
        except DomainError as exc:
            _raise_if_forbidden(exc)
            errors, status = _errors(exc), 400
    counts = dict(Case.objects.values("category").annotate(n=Count("id")).values_list("category", "n"))
    listed = set()
    current = selectors.current_rlist()
    if current:
        listed = set(current.items.values_list("category_id", flat=True))
    rows = [{"category": c, "cases": counts.get(c.pk, 0), "listed": c.pk in listed}
            for c in Category.objects.order_by("code")]
    return render(request, "cases/settings/categories.html", {
        "tab": "categories", "rows": rows, "errors": errors, "form": form, "modes": AssignMode.choices,
    }, status=status)


# --- holidays -----------------------------------------------------------------------------------------

def _year(request) -> int:
    raw = request.GET.get("year") or request.POST.get("year") or ""
    today = local_date(timezone.now())
    return int(raw) if raw.isdigit() and 2000 <= int(raw) <= 2100 else today.year


def _date(raw: str) -> dt.date:
    try:
        return dt.date.fromisoformat((raw or "").strip())
    except ValueError:
        raise DomainError(_("Give the date as YYYY-MM-DD."), fields={"date": [_("Not a date.")]})


@admin_only
@require_http_methods(["GET", "POST"])
def holidays(request):
    year = _year(request)
    errors, status, pasted = [], 200, ""
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "save":
                day = _date(request.POST.get("date"))
                services.set_holiday(actor=request.user, date=day, is_working_day=request.POST.get("kind") == "work",
                                     name=request.POST.get("name", ""))
                messages.success(request, _("Saved %(date)s.") % {"date": day.isoformat()})
                year = day.year
            elif action == "delete":
                day = _date(request.POST.get("date"))
                services.delete_holiday(actor=request.user, date=day)
                messages.success(request, _("Removed %(date)s: it follows the ordinary week again.")
                                 % {"date": day.isoformat()})
            elif action in ("paste", "upload"):
                if action == "paste":
                    pasted = request.POST.get("lines", "")
                    entries = holiday_rows.parse_holiday_lines(pasted)
                else:
                    upload = request.FILES.get("file")
                    if upload is None:
                        raise DomainError(_("Choose the spreadsheet (.xlsx) to upload."),
                                          fields={"file": [_("Required.")]})
                    entries = holiday_rows.read_holiday_xlsx(upload.read())
                done = services.import_holidays(actor=request.user, entries=entries)
                messages.success(request, _("Saved %(created)d new and %(updated)d changed dates.") % done)
                year = min(e.date for e in entries).year
            else:
                raise DomainError(_("Unknown action."), fields={"action": [_("Unknown.")]})
            return redirect(f"{reverse('cases:settings-holidays')}?year={year}")
        except DomainError as exc:
            if exc.status == 403:
                raise PermissionDenied(exc.message)
            errors, status = _errors(exc), 400 if exc.status != 404 else 404
    rows = Holiday.objects.filter(date__year=year).order_by("date")
    years = sorted({d.year for d in Holiday.objects.dates("date", "year")} | {year, local_date(timezone.now()).year,
                                                                             local_date(timezone.now()).year + 1})
    return render(request, "cases/settings/holidays.html", {
        "tab": "holidays", "year": year, "years": years, "rows": rows, "summary": holiday_rows.year_summary(year),
        "errors": errors, "pasted": pasted,
    }, status=status)


@admin_only
@require_GET
def holidays_xlsx(request, year: int):
    return _file_response(holiday_rows.holiday_workbook(year), f"节假日-{year}.xlsx")


# --- integrations -------------------------------------------------------------------------------------

@admin_only
@require_http_methods(["GET", "POST"])
def integrations_page(request):
    errors, status = [], 200
    shown_key = shown_secret = None  # (integration, value): shown on this response only
    form = {}
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "create":
                form = {f: request.POST.get(f, "") for f in ("name", "kind", "webhook_url")}
                integration, key = integrations.create_integration(actor=request.user, **form)
                shown_key, form = (integration, key), {}
            else:
                pk = request.POST.get("integration", "")
                integration = get_object_or_404(Integration, pk=int(pk) if pk.isdigit() else 0)
                if action == "rotate":
                    shown_key = (integration, integrations.rotate_key(actor=request.user, integration=integration))
                elif action == "update":
                    integrations.update_integration(actor=request.user, integration=integration,
                                                    name=request.POST.get("name"),
                                                    webhook_url=request.POST.get("webhook_url", ""),
                                                    active=request.POST.get("active") == "1")
                    messages.success(request, _("Saved %(name)s.") % {"name": integration.name})
                    return redirect("cases:settings-integrations")
                elif action == "reveal":
                    shown_secret = (integration, integrations.reveal_webhook_secret(actor=request.user,
                                                                                    integration=integration))
                else:
                    raise DomainError(_("Unknown action."), fields={"action": [_("Unknown.")]})
        except DomainError as exc:
            _raise_if_forbidden(exc)
            errors, status = _errors(exc), 400
    pending = dict(WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING).values("integration")
                   .annotate(n=Count("id")).values_list("integration", "n"))
    failed = dict(WebhookDelivery.objects.filter(status=WebhookDelivery.Status.FAILED).values("integration")
                  .annotate(n=Count("id")).values_list("integration", "n"))
    cases = dict(Case.objects.filter(integration__isnull=False).values("integration").annotate(n=Count("id"))
                 .values_list("integration", "n"))
    rows = [{"integration": i, "pending": pending.get(i.pk, 0), "failed": failed.get(i.pk, 0),
             "cases": cases.get(i.pk, 0)} for i in Integration.objects.select_related("created_by").order_by("name")]
    response = render(request, "cases/settings/integrations.html", {
        "tab": "integrations", "rows": rows, "errors": errors, "form": form, "kinds": Integration.Kind.choices,
        "shown_key": shown_key, "shown_secret": shown_secret, "key_prefix": integrations.KEY_PREFIX,
    }, status=status)
    response["Cache-Control"] = "private, no-store"  # a key or secret may be on this page
    return response


# --- figures ------------------------------------------------------------------------------------------

def _range(request) -> tuple[dt.date, dt.date, list[str]]:
    start, end = figures_reads.default_range()
    problems = []
    raw_from, raw_to = request.GET.get("from", "").strip(), request.GET.get("to", "").strip()
    try:
        if raw_from:
            start = dt.date.fromisoformat(raw_from)
        if raw_to:
            end = dt.date.fromisoformat(raw_to)
    except ValueError:
        problems.append(_("Give the dates as YYYY-MM-DD."))
    if not problems and start > end:
        problems.append(_("The range ends before it starts."))
    if not problems and (end - start).days >= figures_reads.MAX_DAYS:
        problems.append(_("At most %(n)d days at a time.") % {"n": figures_reads.MAX_DAYS})
    if problems:
        start, end = figures_reads.default_range()
    return start, end, problems


def _display(rows: list[dict]) -> list[dict]:
    return [{**row, "reply_pct": figures_reads.percent(row["reply_rate"]),
             "resolution_pct": figures_reads.percent(row["resolution_rate"]),
             "respond": figures_reads.humanize(row["median_response_seconds"]),
             "resolve": figures_reads.humanize(row["median_resolution_seconds"])} for row in rows]


@role_required(Role.DISTRICT_ADMIN, Role.COMMUNITY_STAFF)
@require_GET
def figures(request):
    start, end, problems = _range(request)
    data = figures_reads.tables(request.user, start, end)
    overall = _display([data["overall"]])[0] if data["overall"] else None
    return render(request, "cases/settings/figures.html", {
        "tab": "figures", "start": start, "end": end, "problems": problems, "overall": overall,
        "tables": [("grid", _("Per grid"), _display(data["grid"])),
                   ("worker", _("Per worker"), _display(data["worker"])),
                   ("department", _("Per department"), _display(data["department"]))],
        "scope": figures_reads.scope_label(request.user),
    }, status=400 if problems else 200)


@role_required(Role.DISTRICT_ADMIN, Role.COMMUNITY_STAFF)
@require_GET
def figures_export(request):
    start, end, problems = _range(request)
    if problems:
        return HttpResponse(" ".join(problems), status=400, content_type="text/plain; charset=utf-8")
    data = figures_reads.tables(request.user, start, end)
    name = f"办件统计-{start:%Y%m%d}-{end:%Y%m%d}"
    if request.GET.get("format") == "csv":
        return _file_response(figures_reads.export_csv(data), f"{name}.csv", "text/csv; charset=utf-8")
    return _file_response(figures_reads.export_xlsx(data, start=start, end=end,
                                                    scope_text=figures_reads.scope_label(request.user)),
                          f"{name}.xlsx")
