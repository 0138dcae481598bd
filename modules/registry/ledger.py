"""Import of the community ledger (台账导入): the population spreadsheet community staff keep.

Flow. ``upload_ledger`` reads the header (a missing required column, an unreadable or unsupported
file is a clear 400 and nothing is saved), stores the file encrypted under the district's media
prefix and starts the dry run (phase ``check``): every row is checked and stored with its problems,
in Chinese and English words, and the rejected rows are written to a workbook with the original
columns and a 原因 / reason column. Nothing is written to the registry. ``confirm_import`` starts
the import (phase ``import``) of the rows the dry run found valid, in chunks of ``CHUNK`` rows, each
in one transaction that re-checks its rows against the registry as it is then. Small files run in
the request, big ones in Celery (``tasks.run_import_job``) with progress on the job.

Rules.
- Places: streets, communities, grids, compounds and buildings must exist (the district
  administrator creates them on purpose: they carry the grid, the property company…); a row naming
  an unknown one is rejected, so a typo never creates a phantom compound. A household (unit + room)
  that does not exist yet in a known building is created: flats without a household record are the
  normal case of a first import. 街道 / 社区 / 网格, when given, must agree with the compound and
  building.
- People are recognised by their ID number (the blind index): a person already registered at the
  same household is "unchanged" (importing the same file twice changes nothing); at another household,
  or under another name, the row is rejected; a registered person without a household is bound.
  Rows already registered are not updated: corrections go through the registry's own pages.
- Within the file: the same person twice at the same household keeps the first row (later rows are
  rejected as repeats); the same person at two households rejects all those rows; a second head
  (户主) for one household is rejected.
- The ID number is required: without it a person cannot be recognised on a re-import.
- Community staff may import only into buildings of grids inside their scope.

Resumable: each chunk marks its rows ``imported`` in the transaction that writes them, so a task
redelivered after a killed worker (acks_late) continues with the rows still ``valid``; the unique
blind index makes a second copy of a person impossible anyway. A session advisory lock keeps two
deliveries of the same job from running at once, and a transaction advisory lock serialises the
chunks of concurrent imports in one district.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from kernel import audit, jobs
from kernel.errors import Conflict, DomainError, NotAllowed
from kernel.locks import lock_key, try_advisory_lock
from kernel.permissions import has_role, in_scope
from kernel.personal import blind_index, decrypt, encrypt, mask_name, normalize_id_number, normalize_phone
from kernel.roles import Role
from kernel.text import text_problem
from kernel.workbooks import Spreadsheet, cell_text, open_spreadsheet
from modules.registry.models import (
    Building,
    Community,
    Compound,
    Grid,
    Household,
    ImportJob,
    LedgerRow,
    Membership,
    Resident,
    Street,
)
from modules.registry.services import personal_fields

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
INLINE_MAX_ROWS = 1000  # dry runs and imports of files up to this many rows run in the request
CHUNK = 1000  # rows per transaction (import) and per progress update
HEADER_SCAN_ROWS = 10  # a title line or two above the header row is common
IMPORTERS = (Role.DISTRICT_ADMIN, Role.COMMUNITY_STAFF)
REASON_HEADER = "原因 / reason"


# --- columns --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Column:
    field: str
    zh: str
    en: str
    aliases: tuple[str, ...]
    required: bool = False


COLUMNS = (
    Column("street", "街道", "street", ("街道", "街道办", "街道办事处", "街道名称", "所属街道", "街办", "street")),
    Column("community", "社区", "community",
           ("社区", "社区名称", "所属社区", "社区居委会", "居委会", "community")),
    Column("grid", "网格", "grid", ("网格", "网格名称", "网格编号", "所属网格", "网格号", "grid")),
    Column("compound", "小区", "compound",
           ("小区", "小区名称", "小区名", "所在小区", "所属小区", "compound", "estate"), required=True),
    Column("building", "楼栋", "building",
           ("楼栋", "楼栋号", "楼号", "楼栋名称", "栋", "栋号", "幢", "楼", "building"), required=True),
    Column("unit", "单元", "unit", ("单元", "单元号", "unit")),
    Column("room", "房号", "room", ("房号", "房间号", "门牌号", "室", "户号", "房屋号", "room", "flat"), required=True),
    Column("name", "姓名", "name", ("姓名", "名字", "居民姓名", "name", "fullname"), required=True),
    Column("id_number", "身份证号", "ID number",
           ("身份证号", "身份证号码", "公民身份号码", "公民身份证号", "证件号码", "证件号", "身份证",
            "idnumber", "idno", "idcard"), required=True),
    Column("phone", "联系电话", "phone",
           ("联系电话", "电话", "电话号码", "手机", "手机号", "手机号码", "联系方式", "phone", "mobile", "tel",
            "telephone")),
    Column("relation", "与户主关系", "relation to the head",
           ("与户主关系", "与户主的关系", "关系", "户主关系", "家庭关系", "relation", "relationship")),
)
COLUMN_BY_FIELD = {c.field: c for c in COLUMNS}


def _header_key(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "").lower()
    text = re.sub(r"[(\[][^)\]]*[)\]]", "", text)  # 身份证号(18位) -> 身份证号
    return re.sub(r"[\s*:_\-./]", "", text)


ALIASES = {_header_key(alias): c.field for c in COLUMNS for alias in c.aliases}

HEAD_WORDS = {"户主", "本人", "户主本人", "head", "self", "householdhead"}
TENANT_WORDS = {"租户", "租客", "承租人", "租住", "租房", "tenant", "renter"}


def parse_relation(text: str) -> str:
    key = _header_key(text)
    if key in HEAD_WORDS:
        return Membership.Relation.HEAD
    if key in TENANT_WORDS:
        return Membership.Relation.TENANT
    return Membership.Relation.MEMBER  # 配偶, 子, 长女, 孙子, 儿媳… are all members of the household


# --- problems, in plain words ------------------------------------------------------------------------

PROBLEMS: dict[str, tuple[str, str]] = {
    "missing_field": ("{column}为空，请填写", "{column_en} is empty: fill it in"),
    "name_too_long": ("姓名太长（最多40个字）", "The name is too long (40 characters at most)"),
    "name_invalid": ("姓名须是文字：不能只有数字或符号，也不能含控制字符或乱码",
                     "A name must be text: not only digits or punctuation, no control characters or broken text"),
    "id_length": ("身份证号应为18位", "An ID number has 18 characters"),
    "id_format": ("身份证号应为17位数字加最后一位数字或X", "An ID number is 17 digits and a final digit or X"),
    "id_component": ("身份证号中的出生日期或地区代码不存在",
                     "The birth date or region in this ID number does not exist"),
    "id_checksum": ("身份证号最后一位校验码不对，可能有数字输错",
                    "The last character of this ID number does not match (checksum): a digit is probably mistyped"),
    "id_as_number": ("身份证号被Excel存成了数字，后几位已丢失；请把该列设为文本后重新输入",
                     "Excel stored the ID number as a number and lost its last digits: "
                     "format the column as text and type it again"),
    "phone_invalid": ("联系电话不是有效的号码", "The phone number is not a valid number"),
    "unknown_street": ("没有名为“{value}”的街道", "There is no street “{value}”"),
    "unknown_community": ("没有名为“{value}”的社区", "There is no community “{value}”"),
    "unknown_grid": ("没有名为“{value}”的网格", "There is no grid “{value}”"),
    "unknown_compound": ("没有名为“{value}”的小区（小区须先由区管理员添加）",
                         "There is no compound “{value}” (the district administrator adds places first)"),
    "ambiguous_compound": ("有多个名为“{value}”的小区，请填写社区",
                           "Several compounds are named “{value}”: fill in the community"),
    "unknown_building": ("小区“{compound}”没有楼栋“{value}”", "Compound “{compound}” has no building “{value}”"),
    "place_mismatch": ("{place}属于{kind_zh}“{actual}”，不是“{value}”", "{place} is in {kind_en} “{actual}”, not “{value}”"),
    "outside_scope": ("该楼栋不在您负责的范围内", "This building is outside your area"),
    "duplicate_in_file": ("与第{other}行是同一人、同一户，重复", "The same person at the same household as on line {other}"),
    "two_households_in_file": ("同一人在本文件中登记在不同的户（第{others}行）",
                               "The same person is at different households in this file (lines {others})"),
    "two_heads_in_file": ("本户在第{other}行已有户主", "This household already has a head on line {other}"),
    "registered_elsewhere": ("此人已登记在另一户（{community}）",
                             "This person is already registered at another household ({community})"),
    "id_other_name": ("此身份证号已登记在另一姓名下（{name}）",
                      "This ID number is registered under another name ({name})"),
    "head_exists": ("本户已有户主（{name}）", "This household already has a head ({name})"),
}


# Short names of the problems, for a report's summary (code -> zh, en).
PROBLEM_LABELS: dict[str, tuple[str, str]] = {
    "missing_field": ("必填项为空", "required field empty"),
    "name_too_long": ("姓名太长", "name too long"),
    "name_invalid": ("姓名无效", "invalid name"),
    "id_length": ("身份证号位数不对", "ID number: wrong length"),
    "id_format": ("身份证号格式不对", "ID number: wrong format"),
    "id_component": ("身份证号的出生日期或地区不存在", "ID number: no such birth date or region"),
    "id_checksum": ("身份证号校验位不对", "ID number: checksum does not match"),
    "id_as_number": ("身份证号被存成了数字", "ID number stored as a number"),
    "phone_invalid": ("联系电话无效", "invalid phone number"),
    "unknown_street": ("街道不存在", "unknown street"),
    "unknown_community": ("社区不存在", "unknown community"),
    "unknown_grid": ("网格不存在", "unknown grid"),
    "unknown_compound": ("小区不存在", "unknown compound"),
    "ambiguous_compound": ("小区重名，需填社区", "compound name used twice: give the community"),
    "unknown_building": ("楼栋不存在", "unknown building"),
    "place_mismatch": ("街道/社区/网格与小区对不上", "street, community or grid does not match"),
    "outside_scope": ("不在您负责的范围内", "outside your area"),
    "duplicate_in_file": ("文件内重复的行", "row repeated in the file"),
    "two_households_in_file": ("文件内同一人在不同的户", "same person at two households in the file"),
    "two_heads_in_file": ("文件内一户有两个户主", "two heads of one household in the file"),
    "registered_elsewhere": ("已登记在另一户", "already registered at another household"),
    "id_other_name": ("身份证号已登记在另一姓名下", "ID number registered under another name"),
    "head_exists": ("本户已有户主", "the household already has a head"),
}


def problem(code: str, field: str, column: str = "", **params) -> dict:
    zh, en = PROBLEMS[code]
    column_def = COLUMN_BY_FIELD.get(field)
    params.setdefault("column", column or (column_def.zh if column_def else field))
    params.setdefault("column_en", column_def.en if column_def else field)
    return {"field": field, "column": column or params["column"], "code": code,
            "zh": zh.format(**params), "en": en.format(**params)}


def reason_text(problems: Iterable[dict]) -> str:
    return "；".join(f"{p['zh']} / {p['en']}" for p in problems)


# --- encrypted files (the ledger holds every ID number of a community) ----------------------------

def seal(data: bytes) -> bytes:
    return encrypt(base64.b64encode(data).decode("ascii")).encode("ascii")


def unseal(data: bytes) -> bytes:
    return base64.b64decode(decrypt(data.decode("ascii")))


def _read_file(filefield) -> bytes:
    with filefield.open("rb") as fh:
        return unseal(fh.read())


# --- reading .xlsx and .csv ---------------------------------------------------------------------------

_text = cell_text


SCIENTIFIC = re.compile(r"^\d(\.\d+)?e\+?\d+$", re.IGNORECASE)


@dataclass
class Sheet:
    data: bytes
    fmt: str
    encoding: str = ""
    sheet_index: int = 0
    header_line: int = 1
    columns: list[str] = field(default_factory=list)
    mapping: dict[str, int] = field(default_factory=dict)
    estimated_rows: int = 0

    def raw_rows(self) -> Iterator[tuple]:
        yield from Spreadsheet(self.data, self.fmt, self.encoding).rows(self.sheet_index)

    def rows(self) -> Iterator[tuple[int, list]]:
        """(line, cells) of every data row after the header; blank rows are skipped."""
        for line, raw in enumerate(self.raw_rows(), start=1):
            if line <= self.header_line:
                continue
            if all(v is None or (isinstance(v, str) and not v.strip()) for v in raw):
                continue
            yield line, list(raw)


def _find_header(rows: Iterable[tuple]) -> tuple[int, list[str], dict[str, int]] | None:
    for line, raw in enumerate(rows, start=1):
        if line > HEADER_SCAN_ROWS:
            return None
        cells = [_text(v) for v in raw]
        mapping: dict[str, int] = {}
        for pos, cell in enumerate(cells):
            fld = ALIASES.get(_header_key(cell))
            if fld and fld not in mapping:
                mapping[fld] = pos
        if len(mapping) >= 3:
            while cells and not cells[-1]:
                cells.pop()
            return line, cells, mapping
    return None


def open_sheet(data: bytes, name: str) -> Sheet:
    """Open the file and find its header row, or raise a DomainError saying what to fix."""
    book = open_spreadsheet(data, name)  # kernel.workbooks: read to its end now, refused here if unreadable
    sheet = Sheet(data=data, fmt=book.fmt, encoding=book.encoding)
    found = None
    for index, head, count in book.heads(HEADER_SCAN_ROWS):
        found = _find_header(head)
        if found:
            sheet.sheet_index = index
            sheet.estimated_rows = max(0, count - found[0])
            break
    if not found:
        raise DomainError("找不到表头：前几行中应有“姓名”“身份证号”“小区”“楼栋”“房号”等列名。"
                          "No header row found: one of the first rows must name the columns "
                          "(姓名 name, 身份证号 ID number, 小区 compound, 楼栋 building, 房号 room…).",
                          code="no_header", fields={"file": ["header"]})
    sheet.header_line, sheet.columns, sheet.mapping = found
    missing = [c for c in COLUMNS if c.required and c.field not in sheet.mapping]
    if missing:
        zh = "、".join(c.zh for c in missing)
        en = ", ".join(f"{c.en} ({c.zh})" for c in missing)
        raise DomainError(f"缺少必填列：{zh}。Required columns are missing: {en}.", code="missing_columns",
                          fields={"file": [c.field for c in missing]})
    return sheet


# --- places ------------------------------------------------------------------------------------------

def _norm(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or "")).lower()


def _strip_suffix(text: str, suffixes: tuple[str, ...]) -> str:
    for suffix in suffixes:
        if text.endswith(suffix) and len(text) > len(suffix):
            return text[: -len(suffix)]
    return text


def norm_building(text: str) -> str:
    return _strip_suffix(_norm(text), ("号楼", "栋", "幢", "座", "号", "楼", "#"))


def norm_unit(text: str) -> str:
    value = _strip_suffix(_norm(text), ("单元", "门"))
    return value.lstrip("0") or value if value.isdigit() else value


def norm_room(text: str) -> str:
    return _strip_suffix(_norm(text), ("室", "号", "房"))


@dataclass
class _Building:
    id: int
    number: str
    compound_id: int
    grid_id: int


class Places:
    """The district's places, loaded once per job, and the households of the buildings seen."""

    def __init__(self, *, allowed_grids: set[int] | None):
        self.allowed_grids = allowed_grids
        self.streets = {s.id: s for s in Street.objects.all()}
        self.communities = {c.id: c for c in Community.objects.all()}
        self.grids = {g.id: g for g in Grid.objects.all()}
        self.compounds = {c.id: c for c in Compound.objects.all()}
        self.compound_keys: dict[str, list[int]] = defaultdict(list)
        for c in self.compounds.values():
            for key in {_norm(c.name), _norm(c.code)}:
                self.compound_keys[key].append(c.id)
        self.buildings: dict[tuple[int, str], _Building] = {}
        for b in Building.objects.values("id", "number", "compound_id", "grid_id"):
            self.buildings[(b["compound_id"], norm_building(b["number"]))] = _Building(**b)
        self.households: dict[tuple[int, str, str], int] = {}
        self.heads: dict[int, tuple[int, str]] = {}  # household -> (resident, name)
        self._loaded: set[int] = set()
        self._keys: dict[tuple[str, int], tuple[str, str]] = {}
        self._resolved: dict[tuple, tuple[_Building | None, list[dict]]] = {}

    def _matches(self, value: str, obj) -> bool:
        ident = (type(obj).__name__, obj.pk)
        keys = self._keys.get(ident)
        if keys is None:
            keys = self._keys[ident] = (_norm(obj.name), _norm(obj.code))
        return _norm(value) in keys

    def _exists(self, objects: dict, value: str) -> bool:
        return any(self._matches(value, o) for o in objects.values())

    def resolve(self, v: dict[str, str], columns: dict[str, str]) -> tuple[_Building | None, list[dict]]:
        """The building a row names, or the problems with its places. A ledger names the same few
        places over and over: each combination is worked out once."""
        key = tuple(v.get(f, "") for f in ("street", "community", "grid", "compound", "building"))
        found = self._resolved.get(key)
        if found is None:
            found = self._resolved[key] = self._resolve(v, columns)
        return found[0], list(found[1])

    def _resolve(self, v: dict[str, str], columns: dict[str, str]) -> tuple[_Building | None, list[dict]]:
        problems: list[dict] = []
        col = columns.get
        if not v.get("compound") or not v.get("building"):
            return None, problems
        candidates = [self.compounds[i] for i in self.compound_keys.get(_norm(v["compound"]), [])]
        if not candidates:
            return None, [problem("unknown_compound", "compound", col("compound", ""), value=v["compound"])]
        for kind, fld, zh, en in (("community", "community", "社区", "community"), ("street", "street", "街道", "street")):
            wanted = v.get(fld)
            if not wanted:
                continue
            if kind == "community":
                matching = [c for c in candidates if self._matches(wanted, self.communities[c.community_id])]
                if not matching and not self._exists(self.communities, wanted):
                    return None, [problem("unknown_community", fld, col(fld, ""), value=wanted)]
            else:
                matching = [c for c in candidates
                            if self._matches(wanted, self.streets[self.communities[c.community_id].street_id])]
                if not matching and not self._exists(self.streets, wanted):
                    return None, [problem("unknown_street", fld, col(fld, ""), value=wanted)]
            if not matching:
                c = candidates[0]
                actual = (self.communities[c.community_id] if kind == "community"
                          else self.streets[self.communities[c.community_id].street_id])
                return None, [problem("place_mismatch", fld, col(fld, ""), place=f"小区“{c.name}”",
                                      kind_zh=zh, kind_en=en, actual=actual.name, value=wanted)]
            candidates = matching
        if len(candidates) > 1:
            return None, [problem("ambiguous_compound", "compound", col("compound", ""), value=v["compound"])]
        compound = candidates[0]
        building = self.buildings.get((compound.id, norm_building(v["building"])))
        if building is None:
            return None, [problem("unknown_building", "building", col("building", ""), compound=compound.name,
                                  value=v["building"])]
        grid = self.grids[building.grid_id]
        if v.get("grid") and not self._matches(v["grid"], grid):
            if not self._exists(self.grids, v["grid"]):
                return None, [problem("unknown_grid", "grid", col("grid", ""), value=v["grid"])]
            return None, [problem("place_mismatch", "grid", col("grid", ""),
                                  place=f"{compound.name}{building.number}号楼", kind_zh="网格", kind_en="grid",
                                  actual=grid.name, value=v["grid"])]
        if self.allowed_grids is not None and building.grid_id not in self.allowed_grids:
            return None, [problem("outside_scope", "building", col("building", ""))]
        return building, problems

    @property
    def loaded(self) -> set[int]:
        return set(self._loaded)

    def load_households(self, building_ids: Iterable[int], *, refresh: bool = False) -> None:
        wanted = set(building_ids) if refresh else set(building_ids) - self._loaded
        if not wanted:
            return
        if refresh:
            self.households = {k: v for k, v in self.households.items() if k[0] not in wanted}
            kept = set(self.households.values())
            self.heads = {h: v for h, v in self.heads.items() if h in kept}
        for h in Household.objects.filter(building_id__in=wanted).values("id", "building_id", "unit", "room"):
            self.households[(h["building_id"], norm_unit(h["unit"]), norm_room(h["room"]))] = h["id"]
        for m in Membership.objects.filter(household__building_id__in=wanted, ended_at__isnull=True,
                                           relation=Membership.Relation.HEAD).values(
                "household_id", "resident_id", "resident__name"):
            self.heads[m["household_id"]] = (m["resident_id"], m["resident__name"])
        self._loaded |= wanted


def allowed_grids_for(actor) -> set[int] | None:
    """Grids whose buildings ``actor`` may import into; None means all of them."""
    if actor is None or has_role(actor, Role.DISTRICT_ADMIN):
        return None
    qs = in_scope(actor, Grid.objects.all(), roles=[Role.COMMUNITY_STAFF],
                  fields={"grid": "code", "community": "community__code", "street": "community__street__code"})
    return set(qs.values_list("id", flat=True))


# --- checking rows -------------------------------------------------------------------------------------

@dataclass
class Row:
    line: int
    cells: list[str]
    values: dict[str, str]
    status: str = LedgerRow.Status.VALID
    problems: list[dict] = field(default_factory=list)
    id_number: str = ""  # normalized
    phone: str = ""  # E.164
    relation: str = Membership.Relation.MEMBER
    building: _Building | None = None
    household_key: tuple | None = None
    resident_id: int | None = None
    household_id: int | None = None
    pk: int | None = None

    def reject(self, p: dict) -> None:
        self.status = LedgerRow.Status.REJECTED
        self.problems.append(p)

    @property
    def id_index(self) -> str:
        return blind_index(self.id_number, "id")

    def payload(self) -> str:
        return encrypt(json.dumps({"c": self.cells, "id": self.id_number, "ph": self.phone}, ensure_ascii=False))


class Checker:
    """Checks rows of one job: each row on its own, then against the registry as it is now."""

    def __init__(self, job: ImportJob, *, actor):
        self.job = job
        self.columns = {f: job.columns[pos] if pos < len(job.columns) else COLUMN_BY_FIELD[f].zh
                        for f, pos in job.mapping.items()}
        self.places = Places(allowed_grids=allowed_grids_for(actor))

    def values(self, cells: list[str]) -> dict[str, str]:
        """field -> the cell as typed, in half-width characters (１２３ -> 123), trimmed."""
        return {fld: unicodedata.normalize("NFKC", cells[pos]).strip() if pos < len(cells) else ""
                for fld, pos in self.job.mapping.items()}

    def parse(self, line: int, raw: list) -> Row:
        width = max(len(self.job.columns), len(raw))
        cells = [_text(raw[i]) if i < len(raw) else "" for i in range(width)]
        while len(cells) > len(self.job.columns) and not cells[-1]:
            cells.pop()
        row = Row(line=line, cells=cells, values=self.values(cells))
        id_cell = raw[self.job.mapping["id_number"]] if self.job.mapping["id_number"] < len(raw) else None
        self.check_row(row, id_is_number=isinstance(id_cell, float))
        return row

    def check_row(self, row: Row, *, id_is_number: bool = False, numbers_checked: bool = False) -> None:
        v, col = row.values, self.columns.get
        for c in COLUMNS:
            if c.required and not v.get(c.field):
                row.reject(problem("missing_field", c.field, col(c.field, "")))
        if len(v.get("name", "")) > 40:
            row.reject(problem("name_too_long", "name", col("name", "")))
        elif v.get("name"):
            name, bad_name = text_problem(v["name"], max_length=40, name=True)  # kernel.text, as the services
            if bad_name:
                row.reject(problem("name_invalid", "name", col("name", "")))
            else:
                v["name"] = name
        if not numbers_checked:
            if v.get("id_number"):
                if id_is_number or SCIENTIFIC.match(v["id_number"]):
                    row.reject(problem("id_as_number", "id_number", col("id_number", "")))
                else:
                    try:
                        row.id_number = normalize_id_number(v["id_number"])
                    except ValidationError as exc:
                        row.reject(problem(exc.code if exc.code in PROBLEMS else "id_format", "id_number",
                                           col("id_number", "")))
            if v.get("phone"):
                try:
                    row.phone = normalize_phone(v["phone"])
                except ValidationError:
                    row.reject(problem("phone_invalid", "phone", col("phone", "")))
        row.relation = parse_relation(v.get("relation", ""))
        building, problems = self.places.resolve(v, self.columns)
        for p in problems:
            row.reject(p)
        if building is not None:
            row.building = building
            row.household_key = (building.id, norm_unit(v.get("unit", "")), norm_room(v.get("room", "")))

    def check_registry(self, rows: list[Row]) -> None:
        """Compare the rows still valid with the registry: already registered here (unchanged),
        elsewhere or under another name (rejected), the household's head."""
        rows = [r for r in rows if r.status == LedgerRow.Status.VALID]
        if not rows:
            return
        self.places.load_households({r.building.id for r in rows})
        by_index: dict[str, list[Row]] = defaultdict(list)
        for r in rows:
            by_index[r.id_index].append(r)
        existing = {x["id_number_index"]: x for x in Resident.objects.filter(
            id_number_index__in=list(by_index)).values("id", "name", "id_number_index")}
        current: dict[int, list[tuple[int, str]]] = defaultdict(list)
        for m in Membership.objects.filter(resident_id__in=[x["id"] for x in existing.values()],
                                           ended_at__isnull=True).values(
                "resident_id", "household_id", "household__grid__community__name"):
            current[m["resident_id"]].append((m["household_id"], m["household__grid__community__name"]))
        col = self.columns.get
        for index, group in by_index.items():
            found = existing.get(index)
            for row in group:
                household = self.places.households.get(row.household_key)
                row.household_id = household
                if found:
                    row.resident_id = found["id"]
                    homes = current.get(found["id"], [])
                    if _norm(found["name"]) != _norm(row.values["name"]):
                        row.reject(problem("id_other_name", "id_number", col("id_number", ""),
                                           name=mask_name(found["name"])))
                        continue
                    if household and any(h == household for h, _c in homes):
                        row.status = LedgerRow.Status.UNCHANGED
                        continue
                    if homes:
                        row.reject(problem("registered_elsewhere", "id_number", col("id_number", ""),
                                           community=homes[0][1]))
                        continue
                if row.relation == Membership.Relation.HEAD and household in self.places.heads:
                    head_id, head_name = self.places.heads[household]
                    if head_id != row.resident_id:
                        row.reject(problem("head_exists", "relation", col("relation", ""),
                                           name=mask_name(head_name)))


class FileChecks:
    """What only the whole file shows: the same person twice, two heads of one household."""

    def __init__(self):
        self.people: dict[str, list[tuple[int, tuple | None]]] = defaultdict(list)
        self.heads: dict[tuple, list[int]] = defaultdict(list)

    def add(self, row: Row) -> None:
        if row.id_number:
            self.people[row.id_number].append((row.line, row.household_key))
        if row.household_key and row.relation == Membership.Relation.HEAD and row.status == LedgerRow.Status.VALID:
            self.heads[row.household_key].append(row.line)  # a head row rejected anyway does not block another

    def rejections(self, columns: dict[str, str]) -> dict[int, list[dict]]:
        out: dict[int, list[dict]] = defaultdict(list)
        col = columns.get
        for lines in self.people.values():
            if len(lines) < 2:
                continue
            households = {key for _line, key in lines if key is not None}  # None: the place is wrong anyway
            if len(households) <= 1:
                first = lines[0][0]
                for line, _key in lines[1:]:
                    out[line].append(problem("duplicate_in_file", "id_number", col("id_number", ""), other=first))
            else:
                for line, _key in lines:
                    others = "、".join(str(n) for n, _k in lines if n != line)
                    out[line].append(problem("two_households_in_file", "id_number", col("id_number", ""),
                                             others=others))
        for lines in self.heads.values():
            for line in lines[1:]:
                out[line].append(problem("two_heads_in_file", "relation", col("relation", ""), other=lines[0]))
        return out


# --- jobs -------------------------------------------------------------------------------------------

QUEUED_STALE = timedelta(minutes=10)  # a job still queued this long lost its task


def _job_lock(job_id: int):
    """Only one worker runs a job at a time (a redelivered task finds it locked and stops)."""
    return try_advisory_lock("ledger-job", job_id)


def _runs_inline(job: ImportJob, estimated_rows: int) -> bool:
    return estimated_rows <= INLINE_MAX_ROWS


def _start(job: ImportJob, *, background: bool | None, estimated_rows: int) -> None:
    if background is None:
        background = not _runs_inline(job, estimated_rows)
    if not background:
        run_job(job_id=job.pk)
        return

    def send():
        from modules.registry.tasks import run_import_job

        try:
            run_import_job.apply_async(args=[job.pk], retry=False)
        except Exception:
            log.exception("ledger job not queued", extra={"job": job.pk})
            ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.QUEUED).update(
                status=ImportJob.Status.FAILED, error="后台任务队列暂时不可用，请稍后重试。"
                                                      "The background queue is unavailable: try again later.")

    transaction.on_commit(send)


def _require_importer(actor) -> None:
    if actor is not None and not has_role(actor, *IMPORTERS):
        raise NotAllowed("只有区管理员和社区工作人员可以导入台账。"
                         "Only the district administrator and community staff import ledgers.")


def upload_ledger(*, actor, file, background: bool | None = None) -> ImportJob:
    """Store an uploaded ledger and start its dry run. ``background``: None decides by size."""
    _require_importer(actor)
    name = (getattr(file, "name", "") or "ledger").rsplit("/", 1)[-1][:200]
    size = getattr(file, "size", None)
    if size is not None and size > MAX_UPLOAD_BYTES:
        raise DomainError(f"文件太大（最多 {MAX_UPLOAD_BYTES // 2**20} MB），请分成几个文件上传。"
                          f"The file is too large ({MAX_UPLOAD_BYTES // 2**20} MB at most): split it.",
                          code="file_too_large", fields={"file": ["size"]})
    data = file.read()
    if len(data) > MAX_UPLOAD_BYTES:
        raise DomainError("文件太大。The file is too large.", code="file_too_large", fields={"file": ["size"]})
    sheet = open_sheet(data, name)
    job = ImportJob(original_name=name, file_format=sheet.fmt, file_sha256=hashlib.sha256(data).hexdigest(),
                    encoding=sheet.encoding, columns=sheet.columns, mapping=sheet.mapping,
                    header_line=sheet.header_line, sheet_index=sheet.sheet_index, created_by=actor if getattr(actor, "pk", None) else None,
                    progress_total=sheet.estimated_rows)
    with transaction.atomic():
        job.file.save("ledger.bin", ContentFile(seal(data)), save=False)
        job.save()
        audit.record(actor=actor, action="registry.ledger.upload", target=job,
                     after={"file": name, "format": sheet.fmt, "rows": sheet.estimated_rows})
    _start(job, background=background, estimated_rows=sheet.estimated_rows)
    job.refresh_from_db()
    return job


def confirm_import(*, actor, job: ImportJob, background: bool | None = None) -> ImportJob:
    """Import the rows the dry run found valid. Confirming again is harmless; confirming a failed
    import resumes it."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job.pk)
        if actor is not None and not (has_role(actor, Role.DISTRICT_ADMIN) or job.created_by_id == actor.pk):
            raise NotAllowed("只有上传者或区管理员可以确认导入。"
                             "Only the person who uploaded the ledger or the district administrator can confirm it.")
        if job.phase == ImportJob.Phase.IMPORT:
            if job.status != ImportJob.Status.FAILED:
                return job
            job.status, job.error = ImportJob.Status.QUEUED, ""
            job.save(update_fields=["status", "error", "updated_at"])
            audit.record(actor=actor, action="registry.ledger.retry", target=job)
        else:
            if job.status == ImportJob.Status.FAILED:
                raise Conflict("试运行失败，请重新上传文件。The dry run failed: upload the file again.",
                               code="check_failed")
            if job.status != ImportJob.Status.DONE:
                raise Conflict("试运行尚未完成，请稍候。The dry run has not finished yet: wait for it.",
                               code="not_checked")
            if job.valid_count == 0:
                raise Conflict("没有可导入的行：每一行都已登记或被拒绝。"
                               "Nothing to import: every row is already registered or rejected.",
                               code="nothing_to_import")
            job.phase, job.status = ImportJob.Phase.IMPORT, ImportJob.Status.QUEUED
            job.confirmed_by = actor if getattr(actor, "pk", None) else None
            job.confirmed_at = timezone.now()
            job.progress_done, job.progress_total = 0, job.valid_count
            job.save()
            audit.record(actor=actor, action="registry.ledger.confirm", target=job,
                         after={"valid": job.valid_count})
    _start(job, background=background, estimated_rows=job.valid_count)
    job.refresh_from_db()
    return job


def run_job(*, job_id: int) -> ImportJob | None:
    """Run whatever the job is waiting for (dry run or import). Safe to call again at any point."""
    with _job_lock(job_id) as got:
        if not got:
            log.info("ledger job already running elsewhere", extra={"job": job_id})
            return None
        job = ImportJob.objects.filter(pk=job_id).first()
        if job is None or job.status in (ImportJob.Status.DONE, ImportJob.Status.FAILED):
            return job
        try:
            with jobs.beating(job):
                if job.phase == ImportJob.Phase.CHECK:
                    _check(job)
                else:
                    _import(job)
        except Exception as exc:
            log.exception("ledger job failed", extra={"job": job_id})
            ImportJob.objects.filter(pk=job_id).update(
                status=ImportJob.Status.FAILED, updated_at=timezone.now(),
                error=f"导入出错，已记录。Something went wrong and it has been logged ({type(exc).__name__}).")
        return ImportJob.objects.get(pk=job_id)


def _mark_running(job: ImportJob) -> None:
    job.status, job.started_at, job.error = ImportJob.Status.RUNNING, job.started_at or timezone.now(), ""
    job.heartbeat_at = timezone.now()
    job.save(update_fields=["status", "started_at", "error", "heartbeat_at", "updated_at"])


def dead_jobs() -> list[int]:
    """Jobs nobody runs although they should be: running ones whose heartbeat stopped and whose lock is
    free (their worker died), and queued ones untouched for QUEUED_STALE (their task was lost with the
    broker). The registry's sweep queues them again, and run_job resumes them."""
    queued = ImportJob.objects.filter(status=ImportJob.Status.QUEUED, updated_at__lte=timezone.now() - QUEUED_STALE)
    return sorted({*jobs.dead(ImportJob.objects.all(), "ledger-job"),
                   *(pk for pk in queued.values_list("pk", flat=True) if jobs.lock_free("ledger-job", pk))})


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    chunk: list = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _check(job: ImportJob) -> None:
    """The dry run: check every row, store it with its problems; nothing goes into the registry."""
    _mark_running(job)
    LedgerRow.objects.filter(job=job).delete()  # a redelivered dry run starts over
    sheet = Sheet(data=_read_file(job.file), fmt=job.file_format, encoding=job.encoding,
                  header_line=job.header_line, columns=job.columns, mapping=job.mapping)
    sheet.sheet_index = job.sheet_index
    checker = Checker(job, actor=job.created_by)
    in_file = FileChecks()
    done = 0
    for raw_chunk in _chunks(sheet.rows(), CHUNK):
        rows = [checker.parse(line, raw) for line, raw in raw_chunk]
        for row in rows:
            in_file.add(row)
        checker.check_registry(rows)
        LedgerRow.objects.bulk_create([
            LedgerRow(job=job, line=r.line, status=r.status, problems=r.problems, data_encrypted=r.payload(),
                      resident_id=r.resident_id if r.status == LedgerRow.Status.UNCHANGED else None,
                      household_id=r.household_id if r.status == LedgerRow.Status.UNCHANGED else None)
            for r in rows])
        done += len(rows)
        job.progress_done, job.progress_total = done, max(job.progress_total, done)
        job.save(update_fields=["progress_done", "progress_total", "updated_at"])
    extra = in_file.rejections(checker.columns)
    if extra:
        stored = list(LedgerRow.objects.filter(job=job, line__in=list(extra)))
        for r in stored:
            r.status = LedgerRow.Status.REJECTED
            r.problems = [*r.problems, *extra[r.line]]
            r.resident_id = r.household_id = None
        _save_rows(stored)
    with transaction.atomic():
        _tally(job)
        job.progress_total = job.progress_done = job.total_rows
        job.status, job.checked_at = ImportJob.Status.DONE, timezone.now()
        job.save()


def _save_rows(rows: list[LedgerRow]) -> None:
    """Save status, problems and links of many rows at once. Django's bulk_update builds one CASE
    per field and row (about half a second per thousand rows here); psycopg pipelines executemany."""
    if not rows:
        return
    table = connection.ops.quote_name(LedgerRow._meta.db_table)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {table} SET status = %s, problems = %s::jsonb, resident_id = %s, household_id = %s "
            f"WHERE id = %s",
            [(r.status, json.dumps(r.problems, ensure_ascii=False), r.resident_id, r.household_id, r.pk)
             for r in rows])


def _tally(job: ImportJob) -> None:
    counts = Counter(LedgerRow.objects.filter(job=job).values_list("status", flat=True))
    job.total_rows = sum(counts.values())
    job.rejected_count = counts[LedgerRow.Status.REJECTED]
    job.unchanged_count = counts[LedgerRow.Status.UNCHANGED]
    job.imported_count = counts[LedgerRow.Status.IMPORTED]
    job.valid_count = counts[LedgerRow.Status.VALID] + job.imported_count
    codes: Counter = Counter()
    for problems in LedgerRow.objects.filter(job=job, status=LedgerRow.Status.REJECTED).values_list(
            "problems", flat=True):
        codes.update({p["code"] for p in problems})
    job.problem_counts = dict(codes.most_common())
    _write_rejected(job)


def _row_from_stored(checker: Checker, stored: LedgerRow) -> Row:
    payload = json.loads(decrypt(stored.data_encrypted))
    raw = payload["c"]
    row = Row(line=stored.line, cells=raw, values=checker.values(raw), id_number=payload["id"],
              phone=payload["ph"], pk=stored.pk)
    checker.check_row(row, numbers_checked=True)
    return row


def _import(job: ImportJob) -> None:
    _mark_running(job)
    checker = Checker(job, actor=job.created_by)
    while True:
        batch = list(LedgerRow.objects.filter(job=job, status=LedgerRow.Status.VALID).order_by("line")[:CHUNK])
        if not batch:
            break
        for attempt in range(3):
            try:
                _import_chunk(job, checker, batch)
                break
            except IntegrityError:  # someone registered one of these people or households meanwhile
                if attempt == 2:
                    raise
                checker.places.load_households(checker.places.loaded, refresh=True)
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job.pk)
        _tally(job)
        job.status, job.finished_at = ImportJob.Status.DONE, timezone.now()
        job.progress_done = job.progress_total
        job.save()
        audit.record(actor=job.confirmed_by, action="registry.ledger.import", target=job,
                     after={"file": job.original_name, "imported": job.imported_count,
                            "households_created": job.households_created, "unchanged": job.unchanged_count,
                            "rejected": job.rejected_count})


def _import_chunk(job: ImportJob, checker: Checker, batch: list[LedgerRow]) -> None:
    """Write one chunk in one transaction. The place cache is only updated once it has committed."""
    places = checker.places
    with transaction.atomic():
        with connection.cursor() as cursor:  # concurrent imports of one district take turns per chunk
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock_key("ledger-import")])
        rows = [_row_from_stored(checker, stored) for stored in batch]
        checker.check_registry(rows)
        valid = [r for r in rows if r.status == LedgerRow.Status.VALID]
        # households that do not exist yet, in known buildings
        new_keys = sorted({r.household_key for r in valid if r.household_key not in places.households})
        grid_of = {r.building.id: r.building.grid_id for r in valid}
        created = Household.objects.bulk_create([
            Household(building_id=b, unit=unit, room=room, grid_id=grid_of[b]) for b, unit, room in new_keys])
        new_households = {key: h.pk for key, h in zip(new_keys, created, strict=True)}
        # new people, encrypted and indexed the one way the registry does it
        newcomers = [r for r in valid if r.resident_id is None]
        residents = Resident.objects.bulk_create([
            Resident(name=r.values["name"], **personal_fields(id_number=r.id_number, phone=r.phone or None))
            for r in newcomers])
        for r, resident in zip(newcomers, residents, strict=True):
            r.resident_id = resident.pk
        new_heads = {}
        for r in valid:
            r.household_id = places.households.get(r.household_key) or new_households[r.household_key]
            if r.relation == Membership.Relation.HEAD:
                new_heads[r.household_id] = (r.resident_id, r.values["name"])
        Membership.objects.bulk_create([
            Membership(resident_id=r.resident_id, household_id=r.household_id, relation=r.relation) for r in valid])
        for stored, r in zip(batch, rows, strict=True):
            stored.status = LedgerRow.Status.IMPORTED if r.status == LedgerRow.Status.VALID else r.status
            stored.problems = r.problems
            stored.resident_id, stored.household_id = r.resident_id, r.household_id
        _save_rows(batch)
        ImportJob.objects.filter(pk=job.pk).update(
            progress_done=job.progress_done + len(batch), households_created=job.households_created + len(created),
            imported_count=job.imported_count + len(valid), updated_at=timezone.now())
    places.households.update(new_households)
    places.heads.update(new_heads)
    job.progress_done += len(batch)
    job.households_created += len(created)
    job.imported_count += len(valid)


# --- the rejected rows, as a workbook --------------------------------------------------------------------

def _write_rejected(job: ImportJob) -> None:
    import openpyxl

    old = job.rejected_file.name if job.rejected_file else ""
    if not job.rejected_count:
        job.rejected_file = None
    else:
        wb = openpyxl.Workbook()  # not write-only: that leaves out <dimension>, which makes re-reading slow
        ws = wb.active
        ws.title = "未导入 rejected"
        ws.append([*job.columns, REASON_HEADER])
        width = len(job.columns)
        rows = LedgerRow.objects.filter(job=job, status=LedgerRow.Status.REJECTED).order_by("line").values_list(
            "data_encrypted", "problems")
        for data, problems in rows.iterator(chunk_size=2000):
            cells = json.loads(decrypt(data))["c"]
            cells = (cells + [""] * width)[:max(width, len(cells))]
            ws.append([*cells[:width], reason_text(problems), *cells[width:]])
        out = io.BytesIO()
        wb.save(out)
        job.rejected_file.save("rejected.bin", ContentFile(seal(out.getvalue())), save=False)
    if old and old != (job.rejected_file.name if job.rejected_file else ""):
        transaction.on_commit(lambda: job.file.storage.delete(old))


def rejected_workbook(job: ImportJob) -> tuple[bytes, str]:
    """The rejected rows (.xlsx bytes) and a file name for the download."""
    if not job.rejected_file:
        raise DomainError("这次导入没有被拒绝的行。This import has no rejected rows.", code="no_rejected_rows",
                          status=404)
    stem = job.original_name.rsplit(".", 1)[0] or "ledger"
    return _read_file(job.rejected_file), f"{stem}-未导入-rejected.xlsx"


def row_preview(stored: LedgerRow, job: ImportJob, *, full: bool = False) -> dict:
    """What a report shows of a row: name, masked ID number, address as typed."""
    from kernel.personal import mask_id_number

    cells = json.loads(decrypt(stored.data_encrypted))["c"]

    def cell(fld: str) -> str:
        pos = job.mapping.get(fld)
        return cells[pos] if pos is not None and pos < len(cells) else ""

    id_number = cell("id_number")
    address = " ".join(x for x in (cell("compound"), cell("building"), cell("unit"), cell("room")) if x)
    return {"name": cell("name"), "id_number": id_number if full else mask_id_number(id_number),
            "address": address, "relation": cell("relation")}


# --- reads -------------------------------------------------------------------------------------------

def jobs_for(user):
    qs = ImportJob.objects.select_related("created_by")
    if has_role(user, Role.DISTRICT_ADMIN):
        return qs
    return qs.filter(Q(created_by=user) | Q(confirmed_by=user))


def rows_of(job: ImportJob, *, status: str | None = None):
    qs = LedgerRow.objects.filter(job=job).order_by("line")
    if status:
        qs = qs.filter(status__in=status.split(","))
    return qs


def same_file_jobs(job: ImportJob):
    """Earlier imports of exactly the same file (shown as a hint; the import itself is idempotent)."""
    return ImportJob.objects.filter(file_sha256=job.file_sha256, phase=ImportJob.Phase.IMPORT).exclude(pk=job.pk)
