"""Reads of the figures page: the service figures (``selectors.figures``) per grid, worker and
department over the cases received in a date range, within what the viewer appraises (district
admins: the district; community staff: their communities or streets), with names, late resolutions,
humanized durations, and the CSV / XLSX export."""
from __future__ import annotations

import csv
import datetime as dt
import io

from django.contrib.auth import get_user_model
from django.db.models import Count, F, Q, QuerySet, Value
from django.utils import timezone
from django.utils.translation import gettext as _

from kernel.permissions import has_role
from kernel.roles import Role, ScopeKind
from kernel.selectors import roles_of
from modules.cases import selectors
from modules.cases.calendar import TZ, local_date
from modules.cases.models import Case, UnitKind

BY = ("grid", "worker", "department")
DEFAULT_DAYS = 30
MAX_DAYS = 731


def scope(user) -> Q | None:
    """The cases ``user`` appraises: None for the whole district, else their communities' / streets'."""
    if has_role(user, Role.DISTRICT_ADMIN):
        return None
    communities, streets = set(), set()
    for a in roles_of(user):
        if a.role != Role.COMMUNITY_STAFF:
            continue
        if a.scope_kind == ScopeKind.DISTRICT:
            return None
        if a.scope_kind == ScopeKind.COMMUNITY:
            communities.add(a.scope_code)
        elif a.scope_kind == ScopeKind.STREET:
            streets.add(a.scope_code)
    cond = Q(pk__in=[])
    if communities:
        cond |= Q(community__code__in=communities) | Q(responsible_kind=UnitKind.COMMUNITY,
                                                       responsible_code__in=communities)
    if streets:
        cond |= (Q(street__code__in=streets) | Q(community__street__code__in=streets)
                 | Q(responsible_kind=UnitKind.STREET, responsible_code__in=streets))
    return cond


def scope_label(user) -> str:
    from modules.registry.models import Community, Street

    if scope(user) is None:
        return _("the whole district")
    names = []
    for a in roles_of(user):
        if a.role == Role.COMMUNITY_STAFF and a.scope_kind == ScopeKind.COMMUNITY:
            names.append(Community.objects.filter(code=a.scope_code).values_list("name", flat=True).first()
                         or a.scope_code)
        elif a.role == Role.COMMUNITY_STAFF and a.scope_kind == ScopeKind.STREET:
            names.append(Street.objects.filter(code=a.scope_code).values_list("name", flat=True).first()
                         or a.scope_code)
    return "、".join(sorted(set(names)))


def default_range(now=None) -> tuple[dt.date, dt.date]:
    end = local_date(now or timezone.now())
    return end - dt.timedelta(days=DEFAULT_DAYS - 1), end


def cases_in(user, start: dt.date, end: dt.date) -> QuerySet:
    """Cases received from the start of ``start`` to the end of ``end`` (local days) in the user's scope."""
    low = dt.datetime.combine(start, dt.time.min, tzinfo=TZ)
    high = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=TZ)
    qs = Case.objects.filter(submitted_at__gte=low, submitted_at__lt=high)
    cond = scope(user)
    if cond is not None:
        qs = qs.filter(pk__in=Case.objects.filter(cond).values("pk"))  # a subquery: joins never duplicate rows
    return qs


_KEYS = {"grid": "grid__code", "worker": "assignee__username", "department": "responsible_code"}


def _late(qs: QuerySet, by: str) -> dict:
    """Cases resolved after their resolution limit, per key."""
    key = _KEYS[by]
    if by == "department":
        qs = qs.filter(responsible_kind=UnitKind.DEPARTMENT)
    rows = (qs.filter(resolved_at__gt=F("resolution_due")).exclude(**{f"{key}__isnull": True})
            .values(key).annotate(n=Count("id")))
    return {r[key]: r["n"] for r in rows}


def _names(by: str, keys: list) -> dict:
    from modules.registry.models import Department, Grid

    if by == "grid":
        return {code: f"{name} · {community}" for code, name, community in
                Grid.objects.filter(code__in=keys).values_list("code", "name", "community__name")}
    if by == "worker":
        return {u: d or u for u, d in get_user_model().objects.filter(username__in=keys)
                .values_list("username", "display_name")}
    return dict(Department.objects.filter(code__in=keys).values_list("code", "name"))


def _overall(qs: QuerySet, now) -> dict | None:
    rows = selectors._figures(qs.annotate(scope_key=Value("all")), "scope_key", now)
    return rows[0] if rows else None


def tables(user, start: dt.date, end: dt.date, *, now=None) -> dict:
    """{"grid": [...], "worker": [...], "department": [...], "overall": {...}} for the page and export."""
    now = now or timezone.now()
    qs = cases_in(user, start, end)
    out: dict = {}
    for by in BY:
        rows = selectors.figures(by=by, cases=qs, now=now)
        late = _late(qs, by)
        names = _names(by, [r["key"] for r in rows])
        for row in rows:
            row["name"] = names.get(row["key"], "")
            row["late"] = late.get(row["key"], 0)
        out[by] = rows
    overall = _overall(qs, now)
    if overall is not None:
        overall["late"] = qs.filter(resolved_at__gt=F("resolution_due")).count()
    out["overall"] = overall
    return out


def humanize(seconds: float | None) -> str:
    """A median duration in words: minutes under an hour, hours under two days, else days."""
    if seconds is None:
        return "—"
    if seconds < 3600:
        return _("%(n)d min") % {"n": max(1, round(seconds / 60))}
    hours = seconds / 3600
    if hours < 48:
        return _("%(n)s h") % {"n": _short(hours)}
    return _("%(n)s d") % {"n": _short(hours / 24)}


def _short(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.0f}%"


# --- export -------------------------------------------------------------------------------------------

COLUMNS = (
    # key, zh, en
    ("key", "代码", "code"),
    ("name", "名称", "name"),
    ("total", "工单数", "cases"),
    ("replied", "已响应", "replied"),
    ("reply_rate", "响应率", "reply rate"),
    ("resolved", "已办结", "resolved"),
    ("resolution_rate", "办结率", "resolution rate"),
    ("median_response_hours", "响应用时中位数（小时）", "median hours to respond"),
    ("median_resolution_hours", "办结用时中位数（小时）", "median hours to resolve"),
    ("overdue", "超期未办结", "overdue, open"),
    ("late", "超期办结", "resolved late"),
    ("workload", "在办", "open workload"),
)
SHEETS = {"grid": ("网格", "grid"), "worker": ("人员", "worker"), "department": ("部门", "department")}


def _hours(seconds):
    return None if seconds is None else round(seconds / 3600, 1)


def export_rows(data: dict, by: str) -> list[list]:
    out = []
    for row in data[by]:
        values = {**row, "median_response_hours": _hours(row["median_response_seconds"]),
                  "median_resolution_hours": _hours(row["median_resolution_seconds"])}
        out.append([values.get(key) for key, _zh, _en in COLUMNS])
    return out


def export_csv(data: dict) -> bytes:
    """One table with a first column naming the table; UTF-8 with a BOM so Excel reads the Chinese."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["表 (table)", *[f"{zh} ({en})" for _key, zh, en in COLUMNS]])
    for by in BY:
        label = "{} ({})".format(*SHEETS[by])
        for row in export_rows(data, by):
            writer.writerow([label, *["" if v is None else v for v in row]])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def export_xlsx(data: dict, *, start: dt.date, end: dt.date, scope_text: str) -> bytes:
    import openpyxl
    from openpyxl.styles import Font

    book = openpyxl.Workbook()
    about = book.active
    about.title = "说明 (about)"
    about.append(["办件统计 (case figures)"])
    about.append(["统计范围 (scope)", scope_text])
    about.append(["受理日期 (received)", start.isoformat(), end.isoformat()])
    about.append(["生成时间 (made at)", timezone.localtime(timezone.now(), TZ).strftime("%Y-%m-%d %H:%M")])
    about.column_dimensions["A"].width = 22
    about.column_dimensions["B"].width = 24
    rate_columns = [i for i, (key, _zh, _en) in enumerate(COLUMNS, start=1) if key.endswith("_rate")]
    for by in BY:
        sheet = book.create_sheet("{} ({})".format(*SHEETS[by]))
        sheet.append([f"{zh} ({en})" for _key, zh, en in COLUMNS])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in export_rows(data, by):
            sheet.append(row)
        for column in rate_columns:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=column, max_col=column):
                cell.number_format = "0%"
        sheet.freeze_panes = "C2"
        for index in range(1, len(COLUMNS) + 1):
            sheet.column_dimensions[openpyxl.utils.get_column_letter(index)].width = 14 if index > 2 else 20
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
