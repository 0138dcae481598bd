"""Import of a 15,000-row community ledger (台账): dry run + import, seconds (goal under 10 s).

Run: ``.venv/bin/python bench/ledger_import.py`` (``BENCH_ROWS``, default 15000).

In a throwaway district (``bench-<random>``, built by replaying migrations, dropped at the end with
its media folder): 1 street, 3 communities, 15 grids, 30 compounds of 10 buildings. The ledger is
an .xlsx made with openpyxl the way community staff keep it (a title line, then 街道 … 与户主关系),
about 3 people per flat, 1 % of rows bad (checksum, phone, unknown building, missing name). Timed through the services
the API and the Celery task call, in this process (no broker in the way):

- dry run: ``ledger.upload_ledger(background=False)``: read, store encrypted, check every row, store
  the report, write the rejected-rows workbook;
- import: ``ledger.confirm_import(background=False)``: new households, residents (encrypted and
  blind-indexed by ``registry.services.personal_fields``), memberships, in chunks of 1,000 rows;
- re-import dry run: the same file again (every row "already registered"), for idempotency's cost.
"""
from __future__ import annotations

import io
import time

from _support import bench_slug, drop_district, figure, log, quiet_stdout, setup_django, size

HEADER = ["街道", "社区", "网格", "小区", "楼栋", "单元", "房号", "姓名", "身份证号", "联系电话", "与户主关系"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉建国志文斌宇浩凯欣怡佳琳雪梅海燕"


def make_id(n: int) -> str:
    from datetime import date, timedelta

    from stdnum.cn import ric

    born = date(1940, 1, 1) + timedelta(days=(n * 7919) % 29000)
    body = f"150602{born:%Y%m%d}{n % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


def build_places(admin):
    from modules.registry import services as s

    street = s.create_street(actor=admin, code="BS1", name="基准街道")
    compounds = []
    for c in range(3):
        community = s.create_community(actor=admin, code=f"BC{c}", name=f"基准社区{c}", street=street)
        for g in range(5):
            grid = s.create_grid(actor=admin, code=f"BG{c}{g}", name=f"基准网格{c}-{g}", community=community)
            for k in range(2):
                compound = s.create_compound(actor=admin, code=f"BP{c}{g}{k}", name=f"基准小区{c}{g}{k}", grid=grid)
                for b in range(1, 11):
                    s.create_building(actor=admin, compound=compound, number=str(b))
                compounds.append((street.name, community.name, grid.name, compound.name))
    return compounds


def ledger_file(rows: int, compounds) -> tuple[bytes, int]:
    import openpyxl

    wb = openpyxl.Workbook()  # like Excel, it writes the sheet's <dimension> (see bench/README.md)
    ws = wb.active
    ws.title = "台账"
    ws.append(["基准社区人口台账"])
    ws.append(HEADER)
    bad = 0
    for n in range(rows):
        flat = n // 3
        street, community, grid, compound = compounds[flat % len(compounds)]
        building = str(1 + (flat // len(compounds)) % 10)
        unit, room = str(1 + flat % 3), str(101 + flat % 97)
        name = SURNAMES[n % len(SURNAMES)] + GIVEN[(n * 7) % len(GIVEN)] + GIVEN[(n * 13) % len(GIVEN)]
        id_number, phone = make_id(n), f"13{n % 10}{n:08d}"[:11]
        relation = "户主" if n % 3 == 0 else ("配偶" if n % 3 == 1 else "子")
        if n % 100 == 42:
            bad += 1
            kind = (n // 100) % 4
            if kind == 0:
                id_number = id_number[:-1] + ("0" if id_number[-1] != "0" else "1")
            elif kind == 1:
                phone = "1380013"
            elif kind == 2:
                building = "99"
            else:
                name = ""
        ws.append([street, community, grid, compound, building, unit, room, name, id_number, phone, relation])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue(), bad


def main() -> int:
    rows = size(15000, 100, env="BENCH_ROWS")
    setup_django()
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import connection
    from django_tenants.utils import tenant_context

    from modules.registry import ledger
    from modules.registry.models import Resident
    from tenants.services import AdminSpec, create_district

    slug = bench_slug()
    try:
        with quiet_stdout():
            created = create_district(slug=slug, name_zh="基准台账区", name_en="Bench ledger", modules=["registry"],
                                      admin=AdminSpec(username="admin", password="bench-pass-12345"),
                                      use_pool=False)
        district, admin = created.district, created.admin
        with tenant_context(district):
            compounds = build_places(admin)
            started = time.perf_counter()
            data, bad = ledger_file(rows, compounds)
            log(f"ledger: {rows} rows ({bad} bad), {len(data) / 2**20:.1f} MB, made in "
                f"{time.perf_counter() - started:.1f}s")

            started = time.perf_counter()
            job = ledger.upload_ledger(actor=admin, file=SimpleUploadedFile("台账.xlsx", data), background=False)
            dry_run = time.perf_counter() - started
            assert job.status == "done", job.error
            log(f"dry run: {dry_run:.2f}s — valid {job.valid_count}, rejected {job.rejected_count} "
                f"{job.problem_counts}")
            assert job.rejected_count == bad and job.valid_count == rows - bad

            started = time.perf_counter()
            job = ledger.confirm_import(actor=admin, job=job, background=False)
            imported = time.perf_counter() - started
            assert job.status == "done", job.error
            assert job.imported_count == rows - bad and Resident.objects.count() == rows - bad
            log(f"import: {imported:.2f}s — {job.imported_count} residents, {job.households_created} households")

            started = time.perf_counter()
            again = ledger.upload_ledger(actor=admin, file=SimpleUploadedFile("台账.xlsx", data), background=False)
            rerun = time.perf_counter() - started
            assert again.unchanged_count == rows - bad and again.valid_count == 0
            log(f"re-import dry run: {rerun:.2f}s — {again.unchanged_count} already registered")
        total = dry_run + imported
        figure("ledger_import_dry_run_seconds", round(dry_run, 2), "s")
        figure("ledger_import_import_seconds", round(imported, 2), "s")
        figure("ledger_import_seconds", round(total, 2), "s", "< 10 s")
        figure("ledger_import_rows_per_second", round(rows / total), "rows/s")
        figure("ledger_reimport_dry_run_seconds", round(rerun, 2), "s")
    finally:
        connection.set_schema_to_public()
        drop_district(slug=slug)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
