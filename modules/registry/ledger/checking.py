"""Checking ledger rows: the district's places a row names, each row on its own, against the registry
as it is now, and what only the whole file shows."""
from __future__ import annotations

import json
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError

from kernel.permissions import has_role, in_scope
from kernel.personal import blind_index, encrypt, normalize_id_number, normalize_phone
from kernel.roles import Role
from kernel.text import text_problem
from modules.registry.ledger.columns import COLUMN_BY_FIELD, COLUMNS, parse_relation
from modules.registry.ledger.problems import PROBLEMS, _mask_name, problem
from modules.registry.ledger.sheets import SCIENTIFIC, _text
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
                                           name=_mask_name(found["name"])))
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
                                           name=_mask_name(head_name)))


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
