"""Helpers of the registry tests: places, valid ID numbers, ledger files."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, timedelta

from django_tenants.utils import tenant_context

HEADER = ["街道", "社区", "网格", "小区", "楼栋", "单元", "房号", "姓名", "身份证号", "联系电话", "与户主关系", "备注"]


def make_id(n: int, *, region: str = "110101") -> str:
    """A valid resident ID number, different for every n (110101 = 东城区, valid for any birth year)."""
    from stdnum.cn import ric

    born = date(1950, 1, 1) + timedelta(days=n // 900)
    body = f"{region}{born:%Y%m%d}{100 + n % 900:03d}"
    return body + ric.calc_check_digit(body + "0")


def bad_checksum(id_number: str) -> str:
    last = id_number[-1]
    return id_number[:-1] + ("0" if last != "0" else "1")


def make_phone(n: int) -> str:
    return f"139{n % 10**8:08d}"


@dataclass
class Places:
    street: object
    community: object
    other_community: object
    grid: object
    other_grid: object
    compound: object
    other_compound: object
    buildings: dict


def build_places(district, actor, prefix: str = "T") -> Places:
    """测试街道 > 阳光社区 (grid 阳光一网格: 阳光小区 buildings 1-3) and 明月社区 (明月一网格: 明月小区 building 1)."""
    from modules.registry import services as s

    with tenant_context(district):
        street = s.create_street(actor=actor, code=f"{prefix}S1", name=f"{prefix}测试街道")
        community = s.create_community(actor=actor, code=f"{prefix}C1", name=f"{prefix}阳光社区", street=street)
        other_community = s.create_community(actor=actor, code=f"{prefix}C2", name=f"{prefix}明月社区", street=street)
        grid = s.create_grid(actor=actor, code=f"{prefix}G1", name=f"{prefix}阳光一网格", community=community)
        other_grid = s.create_grid(actor=actor, code=f"{prefix}G2", name=f"{prefix}明月一网格", community=other_community)
        compound = s.create_compound(actor=actor, code=f"{prefix}P1", name=f"{prefix}阳光小区", grid=grid)
        other_compound = s.create_compound(actor=actor, code=f"{prefix}P2", name=f"{prefix}明月小区", grid=other_grid)
        buildings = {("sun", n): s.create_building(actor=actor, compound=compound, number=str(n)) for n in (1, 2, 3)}
        buildings[("moon", 1)] = s.create_building(actor=actor, compound=other_compound, number="1")
    return Places(street, community, other_community, grid, other_grid, compound, other_compound, buildings)


def row(places: Places, n: int, *, name: str | None = None, building="1", unit="1", room=None, relation="",
        id_number=None, phone=None, moon=False, **override) -> list:
    """One ledger row as staff type it (HEADER order)."""
    p = places
    values = {
        "街道": p.street.name, "社区": (p.other_community if moon else p.community).name,
        "网格": (p.other_grid if moon else p.grid).name, "小区": (p.other_compound if moon else p.compound).name,
        "楼栋": building, "单元": unit, "房号": room or str(101 + n // 3), "姓名": name if name is not None else f"居民{n}",
        "身份证号": id_number if id_number is not None else make_id(n),
        "联系电话": phone if phone is not None else make_phone(n), "与户主关系": relation, "备注": "",
    }
    values.update(override)
    return [values[h] for h in HEADER]


def xlsx_bytes(rows, header=HEADER, title: str | None = None) -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    if title:
        ws.append([title])
    ws.append(list(header))
    for r in rows:
        ws.append(list(r))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def csv_bytes(rows, header=HEADER, encoding="utf-8-sig", title: str | None = None, delimiter=",") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    if title:
        writer.writerow([title])
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def read_xlsx(data: bytes) -> list[list]:
    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    rows = [list(r) for r in wb.worksheets[0].iter_rows(values_only=True)]
    wb.close()
    return rows


def remove_places(district, places: Places, jobs=()) -> None:
    """Undo build_places (and what was imported into it) in a district whose data is committed."""
    from modules.registry.models import (
        Building,
        Community,
        Compound,
        Grid,
        Household,
        ImportJob,
        Resident,
        Street,
    )

    with tenant_context(district):
        grids = [places.grid.pk, places.other_grid.pk]
        for job in ImportJob.objects.filter(pk__in=list(jobs)):
            job.file.delete(save=False)
            if job.rejected_file:
                job.rejected_file.delete(save=False)
            job.delete()
        Resident.objects.filter(memberships__household__grid__in=grids).delete()
        Household.objects.filter(grid__in=grids).delete()
        Building.objects.filter(grid__in=grids).delete()
        Compound.objects.filter(grid__in=grids).delete()
        Grid.objects.filter(pk__in=grids).delete()
        Community.objects.filter(street=places.street).delete()
        Street.objects.filter(pk=places.street.pk).delete()
