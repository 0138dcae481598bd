"""Writes of the cases module's reference data that ``services`` does not cover: the responsibility
list checked row by row before it is published (from the settings form or a spreadsheet), holidays
one by one or pasted / uploaded for a whole year, categories checked before they are saved, and the
audited look at an integration's webhook secret.

Every write checks the actor (district administrators only), runs in one transaction with its audit
entry, and raises ``DomainError`` with ``fields`` naming the bad row or line; nothing is saved when
any row is bad. (The lead may move these functions into ``services``.)"""
from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext as _

from kernel import audit
from kernel.errors import DomainError, NotAllowed
from kernel.permissions import has_role
from kernel.roles import Role
from modules.cases import selectors, services
from modules.cases.calendar import WorkCalendar
from modules.cases.models import (
    AreaKind,
    AssignMode,
    Category,
    Holiday,
    Integration,
    LimitUnit,
    ResponsibilityList,
    UnitKind,
)

MAX_UPLOAD_BYTES = 5 * 2**20
MAX_ROWS = 5000
HOURS_MAX = 24 * 90
WORKING_DAYS_MAX = 250
HOLIDAY_RANGE_MAX_DAYS = 31
HOLIDAY_NAME_MAX = 40
CATEGORY_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _require_admin(actor) -> None:
    if not (getattr(actor, "is_authenticated", False) and has_role(actor, Role.DISTRICT_ADMIN)):
        raise NotAllowed(_("Only district administrators change the settings of cases."))


def _text(value) -> str:
    """A spreadsheet or form cell as trimmed text (whole floats lose their ``.0``)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def _fail(summary: str, problems: dict[str, list[str]], *, code: str = "invalid_rows") -> DomainError:
    return DomainError(summary, fields=problems, code=code)


# --- responsibility list ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Column:
    field: str
    zh: str
    en: str

    @property
    def header(self) -> str:
        return f"{self.zh} ({self.en})"


RLIST_COLUMNS = (
    Column("category", "事项类别", "category"),
    Column("area_kind", "区域类型", "area kind"),
    Column("area_code", "区域代码", "area code"),
    Column("unit_kind", "责任单位类型", "unit kind"),
    Column("unit_code", "责任单位代码", "unit code"),
    Column("response_amount", "响应时限", "response limit"),
    Column("response_unit", "响应时限单位", "response unit"),
    Column("resolution_amount", "办结时限", "resolution limit"),
    Column("resolution_unit", "办结时限单位", "resolution unit"),
)
RLIST_FIELDS = tuple(c.field for c in RLIST_COLUMNS)

# Words a spreadsheet may use besides the codes; the first is what the template writes.
AREA_WORDS = {AreaKind.DISTRICT: ("全区", "区"), AreaKind.STREET: ("街道",), AreaKind.COMMUNITY: ("社区",),
              AreaKind.GRID: ("网格",)}
UNIT_WORDS = {UnitKind.GRID_WORKERS: ("网格员", "本网格网格员"), UnitKind.COMMUNITY: ("社区",),
              UnitKind.STREET: ("街道",), UnitKind.DEPARTMENT: ("部门", "职能部门")}
LIMIT_WORDS = {LimitUnit.HOURS: ("小时", "h"), LimitUnit.WORKING_DAYS: ("工作日", "个工作日", "wd")}
LIST_UNIT_KINDS = tuple(UNIT_WORDS)  # district supervision is the fallback, never a row of the list


def _word_map(words: dict) -> dict[str, str]:
    out = {}
    for value, aliases in words.items():
        out[str(value)] = str(value)
        for alias in aliases:
            out[alias.lower()] = str(value)
    return out


AREA_MAP, UNIT_MAP, LIMIT_MAP = _word_map(AREA_WORDS), _word_map(UNIT_WORDS), _word_map(LIMIT_WORDS)


def word_of(words: dict, value: str) -> str:
    return next(iter(words.get(value, ())), value)


class _Codes:
    """The codes a row may name, loaded once per check."""

    def __init__(self):
        from modules.registry.models import Community, Department, Grid, Street

        self.categories = {c.code: c for c in Category.objects.all()}
        self.category_names = {c.name_zh: c for c in self.categories.values()}
        self.places = {
            AreaKind.STREET: set(Street.objects.values_list("code", flat=True)),
            AreaKind.COMMUNITY: set(Community.objects.values_list("code", flat=True)),
            AreaKind.GRID: set(Grid.objects.values_list("code", flat=True)),
        }
        self.units = {
            UnitKind.GRID_WORKERS: self.places[AreaKind.GRID],
            UnitKind.COMMUNITY: self.places[AreaKind.COMMUNITY],
            UnitKind.STREET: self.places[AreaKind.STREET],
            UnitKind.DEPARTMENT: set(Department.objects.values_list("code", flat=True)),
        }


def _amount(raw: str, unit: str, label: str, problems: list[str]) -> int | None:
    try:
        number = float(raw)
    except (TypeError, ValueError):
        number = None
    if number is None or not number.is_integer() or number <= 0:
        problems.append(_("%(limit)s must be a whole number above 0 (got “%(value)s”).")
                        % {"limit": label, "value": raw})
        return None
    number = int(number)
    top = HOURS_MAX if unit == LimitUnit.HOURS else WORKING_DAYS_MAX
    if unit in LimitUnit.values and number > top:
        problems.append(_("%(limit)s is at most %(n)d %(unit)s.")
                        % {"limit": label, "n": top, "unit": LimitUnit(unit).label})
        return None
    return number


def _check_row(raw: dict, codes: _Codes) -> tuple[dict | None, list[str]]:
    v = {f: _text(raw.get(f)) for f in RLIST_FIELDS}
    problems: list[str] = []
    category = codes.categories.get(v["category"]) or codes.category_names.get(v["category"])
    if not v["category"]:
        problems.append(_("the category is missing."))
    elif category is None:
        problems.append(_("there is no category “%(code)s”.") % {"code": v["category"]})
    elif not category.active:
        problems.append(_("category “%(code)s” is switched off: remove its rows or switch it on.")
                        % {"code": category.code})
    area_kind = AREA_MAP.get((v["area_kind"] or "district").lower())
    area_code = v["area_code"]
    if area_kind is None:
        problems.append(_("the area kind is one of: district, street, community, grid (got “%(value)s”).")
                        % {"value": v["area_kind"]})
    elif area_kind == AreaKind.DISTRICT:
        area_code = ""
    elif not area_code:
        problems.append(_("a %(kind)s row names the %(kind)s's code.") % {"kind": AreaKind(area_kind).label})
    elif area_code not in codes.places[area_kind]:
        problems.append(_("there is no %(kind)s “%(code)s”.") % {"kind": AreaKind(area_kind).label,
                                                                 "code": area_code})
    unit_kind = UNIT_MAP.get((v["unit_kind"] or "grid_workers").lower())
    unit_code = v["unit_code"]
    if unit_kind is None:
        problems.append(_("the responsible unit is one of: grid_workers, community, street, department "
                          "(got “%(value)s”).") % {"value": v["unit_kind"]})
    elif unit_kind == UnitKind.GRID_WORKERS and not unit_code:
        pass  # the case's own grid
    elif not unit_code:
        problems.append(_("a %(kind)s unit needs its code.") % {"kind": UnitKind(unit_kind).label})
    elif unit_code not in codes.units[unit_kind]:
        kind_label = _("grid") if unit_kind == UnitKind.GRID_WORKERS else UnitKind(unit_kind).label
        problems.append(_("there is no %(kind)s “%(code)s”.") % {"kind": kind_label, "code": unit_code})
    limits = {}
    for which, label in (("response", _("The response limit")), ("resolution", _("The resolution limit"))):
        unit = LIMIT_MAP.get(v[f"{which}_unit"].lower())
        if unit is None:
            problems.append(_("%(limit)s is counted in hours or working_days (got “%(value)s”).")
                            % {"limit": label, "value": v[f"{which}_unit"]})
        limits[f"{which}_unit"] = unit
        limits[f"{which}_amount"] = _amount(v[f"{which}_amount"], unit or "", label, problems)
    if (None not in limits.values() and limits["response_unit"] == limits["resolution_unit"]
            and limits["response_amount"] > limits["resolution_amount"]):
        problems.append(_("the response limit is longer than the resolution limit."))
    if problems:
        return None, problems
    return {"category": category.code, "area_kind": area_kind, "area_code": area_code, "unit_kind": unit_kind,
            "unit_code": unit_code, **limits}, []


def check_rlist_rows(rows: list[tuple[int, dict]]) -> list[dict]:
    """Check every row (``(row number, values)``) against the district's categories, places and
    departments; return the items for ``publish_responsibility_list`` or raise one ``DomainError``
    listing every bad row by its number."""
    if not rows:
        raise DomainError(_("A responsibility list needs at least one row."), fields={"rows": [_("Empty.")]},
                          code="empty_list")
    if len(rows) > MAX_ROWS:
        raise DomainError(_("At most %(n)d rows.") % {"n": MAX_ROWS}, fields={"rows": [_("Too many rows.")]})
    codes = _Codes()
    errors: dict[str, list[str]] = {}
    seen: dict[tuple, int] = {}
    items = []
    for number, raw in rows:
        item, problems = _check_row(raw, codes)
        if item is not None:
            key = (item["category"], item["area_kind"], item["area_code"])
            if key in seen:
                problems = [_("same category and area as row %(other)d; keep one of them.") % {"other": seen[key]}]
            else:
                seen[key] = number
                items.append(item)
        if problems:
            errors[f"row {number}"] = [_("Row %(row)d: %(problem)s") % {"row": number, "problem": p}
                                       for p in problems]
    if errors:
        first = next(iter(errors.values()))[0]
        summary = (first if len(errors) == 1 else
                   _("%(first)s (and %(n)d more rows with problems). Nothing was published.")
                   % {"first": first, "n": len(errors) - 1})
        raise _fail(summary, errors)
    return items


def _item_key(item) -> tuple:
    get = (lambda f: item[f]) if isinstance(item, dict) else (lambda f: getattr(item, f))
    category = get("category") if isinstance(item, dict) else item.category.code
    return (category, str(get("area_kind")), get("area_code"), str(get("unit_kind")), get("unit_code"),
            get("response_amount"), str(get("response_unit")), get("resolution_amount"), str(get("resolution_unit")))


def publish_list(*, actor, rows: list[tuple[int, dict]], note: str = "", now=None) -> ResponsibilityList:
    """Check every row, then publish them as the new current version (nothing when any row is bad,
    or when the rows are the current list over again)."""
    _require_admin(actor)
    note = (note or "").strip()
    if len(note) > 200:
        raise DomainError(_("At most %(n)d characters.") % {"n": 200}, fields={"note": [_("Too long.")]})
    with transaction.atomic():
        items = check_rlist_rows(rows)
        current = ResponsibilityList.objects.filter(is_current=True).first()
        if current is not None:
            now_items = sorted(_item_key(i) for i in current.items.select_related("category"))
            if now_items == sorted(_item_key(i) for i in items):
                raise DomainError(_("These rows are the current version v%(v)d over again; nothing to publish.")
                                  % {"v": current.version}, fields={"rows": [_("No change.")]}, code="no_change")
        return services.publish_responsibility_list(actor=actor, items=items, note=note, now=now)


def _header_field(text: str) -> str | None:
    text = _text(text).lower()
    if not text:
        return None
    zh = re.split(r"[(（]", text, maxsplit=1)[0].strip()
    inner = re.search(r"[(（]([^)）]*)[)）]", text)
    en = inner.group(1).strip() if inner else ""
    for c in RLIST_COLUMNS:
        if text in (c.header.lower(), c.field) or zh in (c.zh, c.en, c.field) or en in (c.en, c.field):
            return c.field
    return None


def _open_workbook(data: bytes):
    import openpyxl

    if len(data) > MAX_UPLOAD_BYTES:
        raise DomainError(_("The file is too large: at most %(n)d MB.") % {"n": MAX_UPLOAD_BYTES // 2**20},
                          fields={"file": [_("Too large.")]})
    from kernel.workbooks import check_xlsx

    check_xlsx(data)  # read to its end first: a damaged workbook says what is wrong
    return openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)


def read_rlist_xlsx(data: bytes) -> list[tuple[int, dict]]:
    """The rows of an uploaded list, numbered as the spreadsheet numbers them (header on row 1)."""
    book = _open_workbook(data)
    try:
        sheet = book[book.sheetnames[0]]
        rows = sheet.iter_rows(values_only=True)
        mapping: dict[int, str] = {}
        header_row = 0
        out = []
        for number, cells in enumerate(rows, start=1):
            texts = [_text(c) for c in cells]
            if not mapping:
                if not any(texts):
                    continue
                mapping = {i: f for i, t in enumerate(texts) if (f := _header_field(t))}
                header_row = number
                missing = [c.header for c in RLIST_COLUMNS if c.field not in mapping.values()
                           and c.field not in ("area_code", "unit_code")]
                if missing:
                    raise DomainError(_("Row %(row)d should be the header; these columns are missing: %(cols)s.")
                                      % {"row": number, "cols": "、".join(missing)},
                                      fields={"file": [_("Missing columns: %(cols)s") % {"cols": "、".join(missing)}]},
                                      code="missing_columns")
                continue
            if not any(texts):
                continue
            out.append((number, {f: texts[i] for i, f in mapping.items() if i < len(texts)}))
            if len(out) > MAX_ROWS:
                break
        if not header_row:
            raise DomainError(_("The workbook is empty."), fields={"file": [_("Empty.")]}, code="empty_list")
        return out
    finally:
        book.close()


def rlist_workbook(rlist: ResponsibilityList | None) -> bytes:
    """The template to fill in: the given version's rows (or one example row), a header in Chinese with
    English in brackets, drop-down lists for the kinds and units, and a sheet with every code."""
    import openpyxl
    from openpyxl.styles import Font, PatternFill
    from openpyxl.worksheet.datavalidation import DataValidation

    from modules.registry.models import Community, Department, Grid, Street

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "权责清单"
    sheet.append([c.header for c in RLIST_COLUMNS])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="FFF3E0")
    items = list(rlist.items.select_related("category")) if rlist else []
    for item in items:
        sheet.append([item.category.code, word_of(AREA_WORDS, item.area_kind), item.area_code,
                      word_of(UNIT_WORDS, item.unit_kind), item.unit_code, item.response_amount,
                      word_of(LIMIT_WORDS, item.response_unit), item.resolution_amount,
                      word_of(LIMIT_WORDS, item.resolution_unit)])
    if not items:
        first = Category.objects.filter(active=True).first()
        sheet.append([first.code if first else "corridor_clutter", "全区", "", "网格员", "", 24, "小时", 5, "工作日"])
    for letter, width in zip("ABCDEFGHI", (22, 12, 14, 16, 18, 12, 14, 12, 14), strict=True):
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = "A2"
    last = max(sheet.max_row, 2) + 500
    for column, words in (("B", AREA_WORDS), ("D", UNIT_WORDS), ("G", LIMIT_WORDS), ("I", LIMIT_WORDS)):
        choices = ",".join(word_of(words, v) for v in words)
        check = DataValidation(type="list", formula1=f'"{choices}"', allow_blank=True)
        check.add(f"{column}2:{column}{last}")
        sheet.add_data_validation(check)

    codes = book.create_sheet("代码表 (codes)")
    codes.append(["类型 (kind)", "代码 (code)", "名称 (name)", "说明 (note)"])
    for cell in codes[1]:
        cell.font = Font(bold=True)
    for c in Category.objects.order_by("code"):
        codes.append(["事项类别 category", c.code, c.name_zh, "" if c.active else "已停用 switched off"])
    for s in Street.objects.order_by("code"):
        codes.append(["街道 street", s.code, s.name, ""])
    for c in Community.objects.select_related("street").order_by("code"):
        codes.append(["社区 community", c.code, c.name, c.street.name])
    for g in Grid.objects.select_related("community").order_by("code"):
        codes.append(["网格 grid", g.code, g.name, g.community.name])
    for d in Department.objects.order_by("code"):
        codes.append(["部门 department", d.code, d.name, ""])
    codes.append([])
    codes.append(["说明 (help)", "", "区域类型：全区/街道/社区/网格；全区不填区域代码。"
                  "Area kind: district/street/community/grid; a district row has no area code."])
    codes.append(["", "", "责任单位类型：网格员（单位代码留空＝案件所在网格）/社区/街道/部门。"
                  "Unit kind: grid_workers (empty code = the case's own grid)/community/street/department."])
    codes.append(["", "", "时限单位：小时/工作日（按本区节假日安排计算）。Limits in hours or working days (holiday calendar)."])
    for letter, width in zip("ABCD", (18, 22, 30, 30), strict=True):
        codes.column_dimensions[letter].width = width
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- holidays ---------------------------------------------------------------------------------------

OFF_WORDS = ("休", "放假", "休息", "假", "off", "holiday", "rest")
WORK_WORDS = ("班", "上班", "补班", "调休上班", "work", "working", "workday")
_DATE = r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
_LINE = re.compile(rf"^{_DATE}(?:\s*(?:~|～|至|到|\.\.|—|–)\s*{_DATE})?(?:[\s,，;；]+([^\s,，;；]+))?(?:[\s,，;；]+(.*))?$")


@dataclass(frozen=True)
class HolidayEntry:
    line: int
    date: dt.date
    is_working_day: bool
    name: str


def _kind(word: str) -> bool | None:
    word = (word or "").strip().lower()
    if word in OFF_WORDS:
        return False
    if word in WORK_WORDS:
        return True
    return None


def parse_holiday_lines(text: str, *, numbers: list[int] | None = None) -> list[HolidayEntry]:
    """``2027-01-01 休 元旦`` or ``2027-10-01~2027-10-07 休 国庆节`` or ``2027-09-26 班 国庆调休``, one a line
    (``#`` starts a comment). Every bad line is named; nothing is returned if any line is bad."""
    entries: list[HolidayEntry] = []
    errors: dict[str, list[str]] = {}
    lines = (text or "").splitlines()
    for index, raw in enumerate(lines):
        number = numbers[index] if numbers else index + 1
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        problems: list[str] = []
        match = _LINE.match(line)
        if not match:
            problems.append(_("write a date like 2027-01-01, then 休 (off) or 班 (make-up working day), then the name."))
        else:
            g = match.groups()
            try:
                first = dt.date(int(g[0]), int(g[1]), int(g[2]))
                last = dt.date(int(g[3]), int(g[4]), int(g[5])) if g[3] else first
            except ValueError:
                first = last = None
                problems.append(_("there is no such date."))
            working = _kind(g[6] or "")
            if working is None:
                problems.append(_("say 休 (off) or 班 (make-up working day), not “%(word)s”.") % {"word": g[6] or ""})
            name = (g[7] or "").strip()
            if len(name) > HOLIDAY_NAME_MAX:
                problems.append(_("the name is at most %(n)d characters.") % {"n": HOLIDAY_NAME_MAX})
            if first and last:
                if last < first:
                    problems.append(_("the range ends before it starts."))
                elif (last - first).days >= HOLIDAY_RANGE_MAX_DAYS:
                    problems.append(_("a range is at most %(n)d days.") % {"n": HOLIDAY_RANGE_MAX_DAYS})
            if not problems:
                day = first
                while day <= last:
                    entries.append(HolidayEntry(number, day, working, name))
                    day += dt.timedelta(days=1)
        if problems:
            errors[f"line {number}"] = [_("Line %(line)d: %(problem)s") % {"line": number, "problem": p}
                                        for p in problems]
    seen: dict[dt.date, HolidayEntry] = {}
    for entry in entries:
        problems = []
        if entry.is_working_day and entry.date.weekday() < 5:
            problems.append(_("%(date)s is a weekday; a make-up working day falls on a Saturday or Sunday.")
                            % {"date": entry.date.isoformat()})
        other = seen.get(entry.date)
        if other is not None and other.is_working_day != entry.is_working_day:
            problems.append(_("%(date)s is also on line %(other)d, the other way round.")
                            % {"date": entry.date.isoformat(), "other": other.line})
        seen.setdefault(entry.date, entry)
        if problems:
            errors.setdefault(f"line {entry.line}", []).extend(
                _("Line %(line)d: %(problem)s") % {"line": entry.line, "problem": p} for p in problems)
    if errors:
        first = next(iter(errors.values()))[0]
        summary = (first if len(errors) == 1 else _("%(first)s (and %(n)d more lines with problems). Nothing was saved.")
                   % {"first": first, "n": len(errors) - 1})
        raise _fail(summary, errors, code="invalid_lines")
    if not entries:
        raise DomainError(_("No dates given."), fields={"lines": [_("Empty.")]}, code="empty")
    return list({e.date: e for e in entries}.values())  # the last line naming a date wins its name


def read_holiday_xlsx(data: bytes) -> list[HolidayEntry]:
    """Columns 日期 (date), 类型 (kind: 休/班), 名称 (name); a header row is skipped."""
    book = _open_workbook(data)
    try:
        sheet = book[book.sheetnames[0]]
        lines, numbers = [], []
        for number, cells in enumerate(sheet.iter_rows(values_only=True), start=1):
            texts = [_text(c) for c in (list(cells) + [None, None, None])[:3]]
            if not any(texts) or (number == 1 and not re.match(r"^\d{4}", texts[0])):
                continue
            lines.append(" ".join(t or "-" if i < 2 else t for i, t in enumerate(texts)).strip())
            numbers.append(number)
    finally:
        book.close()
    return parse_holiday_lines("\n".join(lines), numbers=numbers)


def holiday_workbook(year: int) -> bytes:
    import openpyxl
    from openpyxl.styles import Font

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = str(year)
    sheet.append(["日期 (date)", "类型 (kind: 休 off / 班 make-up work)", "名称 (name)"])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    rows = Holiday.objects.filter(date__year=year).order_by("date")
    for h in rows:
        sheet.append([h.date.isoformat(), "班" if h.is_working_day else "休", h.name])
    if not rows:
        sheet.append([f"{year}-01-01", "休", "元旦"])
    for letter, width in zip("ABC", (14, 34, 24), strict=True):
        sheet.column_dimensions[letter].width = width
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def import_holidays(*, actor, entries: list[HolidayEntry]) -> dict:
    """Save checked entries in one go (a date already listed takes the new kind and name)."""
    _require_admin(actor)
    if not entries:
        raise DomainError(_("No dates given."), fields={"lines": [_("Empty.")]}, code="empty")
    created = updated = 0
    with transaction.atomic():
        for entry in entries:
            _holiday, made = Holiday.objects.update_or_create(
                date=entry.date, defaults={"is_working_day": entry.is_working_day, "name": entry.name})
            created += made
            updated += not made
        selectors.forget_routing()
        dates = sorted(e.date for e in entries)
        audit.record(actor=actor, action="cases.holiday.import", target_type="cases.holiday", target_id="*",
                     after={"created": created, "updated": updated, "first": dates[0].isoformat(),
                            "last": dates[-1].isoformat(), "off": sum(not e.is_working_day for e in entries),
                            "working": sum(e.is_working_day for e in entries)})
    return {"created": created, "updated": updated}


def save_holiday(*, actor, date: dt.date, is_working_day: bool, name: str = "") -> Holiday:
    _require_admin(actor)
    name = (name or "").strip()
    if len(name) > HOLIDAY_NAME_MAX:
        raise DomainError(_("At most %(n)d characters.") % {"n": HOLIDAY_NAME_MAX}, fields={"name": [_("Too long.")]})
    if is_working_day and date.weekday() < 5:
        raise DomainError(_("%(date)s is a weekday; a make-up working day falls on a Saturday or Sunday.")
                          % {"date": date.isoformat()}, fields={"date": [_("Not a weekend day.")]})
    return services.set_holiday(actor=actor, date=date, is_working_day=is_working_day, name=name)


def delete_holiday(*, actor, date: dt.date) -> None:
    """The date follows the ordinary week again (Monday–Friday working)."""
    _require_admin(actor)
    with transaction.atomic():
        holiday = Holiday.objects.select_for_update().filter(date=date).first()
        if holiday is None:
            raise DomainError(_("%(date)s is not in the holiday calendar.") % {"date": date.isoformat()},
                              fields={"date": [_("Not listed.")]}, code="not_found", status=404)
        before = {"date": date.isoformat(), "working": holiday.is_working_day, "name": holiday.name}
        pk = holiday.pk
        holiday.delete()
        selectors.forget_routing()
        audit.record(actor=actor, action="cases.holiday.delete", target_type="cases.holiday", target_id=str(pk),
                     before=before)


def year_summary(year: int) -> dict:
    """Working days of ``year`` under the calendar, and how many listed days are off / worked."""
    rows = dict(Holiday.objects.filter(date__year=year).values_list("date", "is_working_day"))
    calendar = WorkCalendar(rows)
    start = dt.date(year, 1, 1) - dt.timedelta(days=1)
    return {"working_days": calendar.working_days_between(start, dt.date(year, 12, 31)),
            "off": sum(not w for w in rows.values()), "made_up": sum(bool(w) for w in rows.values())}


# --- categories ---------------------------------------------------------------------------------------

def save_category(*, actor, code: str, name_zh: str, name_en: str = "", assign_mode: str = AssignMode.DISPATCH,
                  active: bool = True, new: bool = False) -> Category:
    """Add (``new``) or edit a category after checking its fields; the code never changes."""
    _require_admin(actor)
    code, name_zh, name_en = (code or "").strip().lower(), (name_zh or "").strip(), (name_en or "").strip()
    fields: dict[str, list[str]] = {}
    if not CATEGORY_CODE.match(code):
        fields["code"] = [_("Lower-case letters, digits, - and _; at most 40.")]
    elif new and Category.objects.filter(code=code).exists():
        fields["code"] = [_("There is already a category %(code)s.") % {"code": code}]
    elif not new and not Category.objects.filter(code=code).exists():
        fields["code"] = [_("There is no category %(code)s.") % {"code": code}]
    if not name_zh or len(name_zh) > 40:
        fields["name_zh"] = [_("A Chinese name of at most 40 characters.")]
    if len(name_en) > 60:
        fields["name_en"] = [_("At most %(n)d characters.") % {"n": 60}]
    if assign_mode not in AssignMode.values:
        fields["assign_mode"] = [_("Assign mode is dispatch or grab.")]
    if fields:
        raise DomainError(next(iter(fields.values()))[0], fields=fields)
    return services.save_category(actor=actor, code=code, name_zh=name_zh, name_en=name_en, assign_mode=assign_mode,
                                  active=bool(active))


# --- integrations -----------------------------------------------------------------------------------

def reveal_webhook_secret(*, actor, integration: Integration) -> str:
    """The secret an integration checks our webhook signatures with; every look is in the audit log."""
    from modules.cases.intake.integrations import webhook_secret

    _require_admin(actor)
    with transaction.atomic():
        audit.record(actor=actor, action="cases.integration.reveal_secret", target=integration,
                     after={"key_prefix": integration.key_prefix})
        return webhook_secret(integration)
