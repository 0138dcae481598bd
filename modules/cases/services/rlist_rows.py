"""The responsibility list as rows: each row checked against the district's categories, places and
departments (``check_rlist_rows``, every bad row named by its number), read from an uploaded workbook
(``read_rlist_xlsx``, through kernel.workbooks) or written as the template to fill in
(``rlist_workbook``). ``reference.publish_list`` publishes the checked rows."""
from __future__ import annotations

import io
import re
from dataclasses import dataclass

from django.utils.translation import gettext as _

from kernel.errors import DomainError
from kernel.workbooks import XLSX, cell_text, open_spreadsheet
from modules.cases.models import AreaKind, Category, LimitUnit, ResponsibilityList, UnitKind

MAX_UPLOAD_BYTES = 5 * 2**20
MAX_ROWS = 5000
HOURS_MAX = 24 * 90
WORKING_DAYS_MAX = 250
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_text = cell_text


def _fail(summary: str, problems: dict[str, list[str]], *, code: str = "invalid_rows") -> DomainError:
    return DomainError(summary, fields=problems, code=code)


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


def item_key(item) -> tuple:
    get = (lambda f: item[f]) if isinstance(item, dict) else (lambda f: getattr(item, f))
    category = get("category") if isinstance(item, dict) else item.category.code
    return (category, str(get("area_kind")), get("area_code"), str(get("unit_kind")), get("unit_code"),
            get("response_amount"), str(get("response_unit")), get("resolution_amount"), str(get("resolution_unit")))


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


def open_workbook(data: bytes, name: str = ""):
    """The first sheet's rows of an uploaded .xlsx (kernel.workbooks reads it to its end first)."""
    return open_spreadsheet(data, name or "upload.xlsx", max_bytes=MAX_UPLOAD_BYTES, formats=(XLSX,)).rows()


def read_rlist_xlsx(data: bytes) -> list[tuple[int, dict]]:
    """The rows of an uploaded list, numbered as the spreadsheet numbers them (header on row 1)."""
    rows = open_workbook(data)
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
