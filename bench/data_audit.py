"""Data audit (数据核查) of 350,000 residents — Kangbashi's size —: seconds, goal under 30 s.

Run: ``.venv/bin/python bench/data_audit.py`` (``BENCH_RESIDENTS``, default 350000).

In a throwaway district (``bench-<random>``, built by replaying migrations, dropped at the end) the
data is written with COPY: 5 streets, 50 communities, 500 grids, 1,000 compounds, 10,000 buildings,
120,000 households, the residents (ID and phone numbers encrypted and blind-indexed with the
kernel's own functions, so the audit decrypts real tokens) and their memberships. Planted problems,
about Xixia's proportions (730 invalid ID numbers in 14,900 people): 5 % invalid ID numbers, 1,000
same-name-and-birth-date pairs, 500 same-name-and-phone pairs, 2,000 people bound to two households,
1 % of households over their registered size, 3,000 people with no household (all scaled to
``BENCH_RESIDENTS``).

Timed: ``registry.datachecks.start_audit(background=False)`` — what the Celery task runs: every check,
then the findings written in one transaction. Then a second run over the same data (findings exist:
each is kept, none is new), which is what a district sees from the second run on.
"""
from __future__ import annotations

import random
import time
from datetime import date, timedelta

from _support import bench_slug, drop_district, figure, log, quiet_stdout, setup_django, size

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉建国志文斌宇浩凯欣怡佳琳雪梅海燕"
REGIONS = ("150602", "150603", "150621", "152701", "110101", "370285")
DAYS = 29_000  # birth dates over about 80 years


def person_name(n: int) -> str:
    return SURNAMES[n % len(SURNAMES)] + GIVEN[(n * 7) % len(GIVEN)] + GIVEN[(n * 13) % len(GIVEN)]


def id_number(n: int) -> tuple[str, date]:
    from stdnum.cn import ric

    born = date(1940, 1, 1) + timedelta(days=n % DAYS)
    body = f"{REGIONS[n % len(REGIONS)]}{born:%Y%m%d}{n // DAYS:03d}"
    return body + ric.calc_check_digit(body + "0"), born


def build(n_residents: int, admin) -> dict:
    from django.db import connection
    from django.utils import timezone

    from kernel.personal import blind_index, encrypt
    from modules.registry.models import (
        Building,
        Community,
        Compound,
        Grid,
        Household,
        Membership,
        Resident,
        Street,
    )

    rng = random.Random(7)
    streets = Street.objects.bulk_create([Street(code=f"S{i}", name=f"街道{i}") for i in range(5)])
    communities = Community.objects.bulk_create([
        Community(code=f"C{i}", name=f"社区{i}", street=streets[i // 10]) for i in range(50)])
    grids = Grid.objects.bulk_create([Grid(code=f"G{i}", name=f"网格{i}", community=communities[i // 10])
                                      for i in range(500)])
    compounds = Compound.objects.bulk_create([
        Compound(code=f"P{i}", name=f"小区{i}", grid=grids[i // 2], community=grids[i // 2].community)
        for i in range(1000)])
    buildings = Building.objects.bulk_create([
        Building(compound=compounds[i // 10], number=str(1 + i % 10), grid=compounds[i // 10].grid)
        for i in range(10_000)])

    # Kangbashi's proportions at any BENCH_RESIDENTS (at 350,000: 120,000 households, 3,000 people
    # without one, 1,000 + 500 duplicate pairs, 2,000 in two households).
    n_households = max(10, n_residents * 120_000 // 350_000)
    lonely = n_residents * 3_000 // 350_000
    bound = n_residents - lonely
    sizes = [1 + (h * 7) % 5 for h in range(n_households)]  # 1..5 people, then trimmed to the residents
    excess, h = sum(sizes) - bound, 0
    while excess > 0:
        if sizes[h % n_households] > 1:
            sizes[h % n_households] -= 1
            excess -= 1
        h += 1
    sizes[-1] -= excess  # excess <= 0 here: any residents left over join the last household
    over = set(rng.sample(range(n_households), n_households // 100))
    now = timezone.now()
    today = date.today()

    def copy(model, columns, rows):
        table = connection.ops.quote_name(model._meta.db_table)
        with connection.cursor() as cursor, cursor.cursor.copy(
                f"COPY {table} ({', '.join(columns)}) FROM STDIN") as out:
            for values in rows:
                out.write_row(values)

    started = time.perf_counter()
    copy(Household, ["id", "building_id", "unit", "room", "grid_id", "registered_size"], (
        (h + 1, buildings[h // 12].pk, str(1 + h % 3), str(101 + h % 12), buildings[h // 12].grid_id,
         max(1, sizes[h] - 1) if h in over else sizes[h] + 1) for h in range(n_households)))
    log(f"  households: {time.perf_counter() - started:.1f}s")

    invalid = set(rng.sample(range(n_residents), n_residents // 20))
    twins = {}  # resident -> the resident it duplicates (same name and birth date)
    for a in rng.sample(range(n_residents - lonely // 2), lonely // 3):
        twins[a + 1] = a  # n+1 gets n's name and birth date below, but its own ID number
    phone_pairs = lonely // 6
    phone_twins = set(range(n_residents - phone_pairs, n_residents))  # same name and phone as n-500 (at
    # 350,000), no ID number; they are among the 3,000 without a household (the last residents)

    def resident_rows():
        for n in range(n_residents):
            source = twins.get(n, n)
            number, born = id_number(n)
            if source != n:
                born = id_number(source)[1]
            name = person_name(source)
            phone = f"+861{3 + n % 7}{n:09d}"[:14]
            if n in phone_twins:
                other = n - phone_pairs
                name = person_name(other)
                phone = f"+861{3 + other % 7}{other:09d}"[:14]
                yield (n + 1, name, "", None, encrypt(phone), blind_index(phone, "phone"), "", None, now, now)
                continue
            if n in invalid:
                number = number[:-1] + ("0" if number[-1] != "0" else "1")
            gender = "m" if int(number[16]) % 2 else "f"
            yield (n + 1, name, encrypt(number), blind_index(number, "id"), encrypt(phone),
                   blind_index(phone, "phone"), gender, born, now, now)

    started = time.perf_counter()
    copy(Resident, ["id", "name", "id_number_encrypted", "id_number_index", "phone_encrypted", "phone_index",
                    "gender", "birth_date", "created_at", "updated_at"], resident_rows())
    log(f"  residents: {time.perf_counter() - started:.1f}s")

    home = [0] * (bound + 1)

    def membership_rows():
        resident = 0
        for h, members in enumerate(sizes):
            for k in range(members):
                resident += 1
                home[resident] = h + 1
                yield resident, h + 1, "head" if k == 0 else "member", today, None
        for r in rng.sample(range(1, bound + 1), lonely * 2 // 3):  # a second current household
            yield r, home[r] % n_households + 1, "member", today, None

    started = time.perf_counter()
    copy(Membership, ["resident_id", "household_id", "relation", "since", "ended_at"], membership_rows())
    log(f"  memberships: {time.perf_counter() - started:.1f}s")
    with connection.cursor() as cursor:
        for model in (Household, Resident):
            table = model._meta.db_table
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")
        cursor.execute(f"ANALYZE {connection.ops.quote_name(Membership._meta.db_table)}")
    return {"households": n_households, "invalid": len(invalid - phone_twins), "over": len(over)}


def main() -> int:
    n_residents = size(350_000, 2_000, env="BENCH_RESIDENTS")
    setup_django()
    from django.db import connection
    from django_tenants.utils import tenant_context

    from modules.registry import datachecks
    from modules.registry.models import Finding, Resident
    from tenants.services import AdminSpec, create_district

    slug = bench_slug()
    try:
        with quiet_stdout():
            created = create_district(slug=slug, name_zh="基准核查区", name_en="Bench audit", modules=["registry"],
                                      admin=AdminSpec(username="admin", password="bench-pass-12345"),
                                      use_pool=False)
        district, admin = created.district, created.admin
        with tenant_context(district):
            started = time.perf_counter()
            planted = build(n_residents, admin)
            log(f"data: {Resident.objects.count()} residents, {planted} in {time.perf_counter() - started:.1f}s")

            started = time.perf_counter()
            run = datachecks.start_audit(actor=admin, background=False)
            seconds = time.perf_counter() - started
            assert run.status == "done", run.error
            log(f"first run: {seconds:.2f}s — {run.counts}, {run.new_findings} findings")
            assert run.invalid_id == planted["invalid"] and run.residents_checked == n_residents

            started = time.perf_counter()
            again = datachecks.start_audit(actor=admin, background=False)
            rerun = time.perf_counter() - started
            assert again.status == "done" and again.new_findings == 0 and again.counts == run.counts
            log(f"second run: {rerun:.2f}s — {Finding.objects.count()} findings kept")
            for name, check in (("invalid ID numbers", datachecks.find_invalid_ids), ("duplicates", datachecks.find_duplicates),
                                ("two households", datachecks.find_two_households),
                                ("over capacity", lambda: datachecks.find_over_capacity(12)),
                                ("no household", datachecks.find_no_household)):
                started = time.perf_counter()
                check()
                log(f"  {name}: {time.perf_counter() - started:.2f}s")
        figure("data_audit_seconds", round(seconds, 2), "s", "< 30 s")
        figure("data_audit_residents_per_second", round(n_residents / seconds), "residents/s")
        figure("data_audit_findings", run.new_findings, "findings")
        figure("data_audit_rerun_seconds", round(rerun, 2), "s")
    finally:
        connection.set_schema_to_public()
        drop_district(slug=slug)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
