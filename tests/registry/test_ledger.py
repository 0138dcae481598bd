"""Ledger import (台账导入): dry run with every row's problems in words, import of the valid rows,
rejected rows back as a workbook with a reason column, idempotent re-imports, resumable jobs,
scopes, the API and staff pages, and a real Celery worker."""
from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django_tenants.utils import tenant_context
from stdnum.cn import ric

from kernel.errors import Conflict, DomainError
from kernel.models import AuditEntry
from kernel.personal import blind_index
from modules.registry import ledger, services
from modules.registry.ledger import importing
from modules.registry.ledger import services as ledger_services
from modules.registry.models import Household, ImportJob, LedgerRow, Membership, Resident
from tests.conftest import admin_of, client_for, make_user, wait_for
from tests.registry import (
    HEADER,
    bad_checksum,
    build_places,
    csv_bytes,
    make_id,
    read_xlsx,
    remove_places,
    row,
    xlsx_bytes,
)

API = "/api/v1/registry"


@pytest.fixture(autouse=True)
def _no_leftover_files():
    """The database rolls back after each test; the encrypted files it stored are removed here."""
    from pathlib import Path

    from django.conf import settings

    folders = list(Path(settings.MEDIA_ROOT).glob("d_*/registry/ledger"))
    before = {f for folder in folders for f in folder.iterdir()}
    yield
    for f in Path(settings.MEDIA_ROOT).glob("d_*/registry/ledger/*"):
        if f not in before and "worker" not in f.parts[-4]:
            f.unlink(missing_ok=True)


@pytest.fixture
def admin(kangbashi):
    return admin_of(kangbashi)


@pytest.fixture
def places(kangbashi, admin):
    return build_places(kangbashi, admin)


def upload(district, actor, data: bytes, name: str = "台账.xlsx", **kwargs) -> ImportJob:
    with tenant_context(district):
        return ledger.upload_ledger(actor=actor, file=SimpleUploadedFile(name, data), **kwargs)


def confirm(district, actor, job: ImportJob, **kwargs) -> ImportJob:
    with tenant_context(district):
        return ledger.confirm_import(actor=actor, job=job, background=kwargs.pop("background", False), **kwargs)


def codes_by_line(job: ImportJob) -> dict[int, list[str]]:
    return {r.line: [p["code"] for p in r.problems] for r in LedgerRow.objects.filter(job=job)}


def registry_counts() -> tuple[int, int, int]:
    return Resident.objects.count(), Household.objects.count(), Membership.objects.count()


def id_with(region: str, born: str, seq: str = "123") -> str:
    body = f"{region}{born}{seq}"
    return body + ric.calc_check_digit(body + "0")


def test_every_problem_is_reported_in_plain_words_and_the_dry_run_writes_nothing(kangbashi, admin, places):
    p = places
    with tenant_context(kangbashi):
        b2 = p.buildings[("sun", 2)]
        home = services.create_household(actor=admin, building=b2, unit="1", room="201")
        services.register_resident(actor=admin, name="户主甲", id_number=make_id(500), household=home, relation="head")
        services.register_resident(actor=admin, name="已登记乙", id_number=make_id(501), household=home)
        services.register_resident(actor=admin, name="已登记丙", id_number=make_id(502), household=home)
        # two compounds with the same name, in different communities
        twin = services.create_compound(actor=admin, code="TW1", name="同名小区", grid=p.grid)
        services.create_building(actor=admin, compound=twin, number="1")
        twin2 = services.create_compound(actor=admin, code="TW2", name="同名小区", grid=p.other_grid)
        services.create_building(actor=admin, compound=twin2, number="1")
        before = registry_counts()
    twin_row = dict(zip(HEADER, row(p, 40), strict=True))
    twin_row2 = dict(zip(HEADER, row(p, 41), strict=True))
    cases = [
        (row(p, 1), []),
        (row(p, 2, name=""), ["missing_field"]),
        (row(p, 3, id_number=""), ["missing_field"]),
        (row(p, 4, id_number=make_id(4)[:17]), ["id_length"]),
        (row(p, 5, id_number=make_id(5)[:15] + "ABC"), ["id_format"]),
        (row(p, 6, id_number=id_with("110101", "19901301")), ["id_component"]),  # month 13
        (row(p, 7, id_number=id_with("990000", "19900101")), ["id_component"]),  # no such region
        (row(p, 8, id_number=bad_checksum(make_id(8))), ["id_checksum"]),
        (row(p, 9, id_number=float("110101195001011234")), ["id_as_number"]),  # Excel kept 15 digits
        (row(p, 10, phone="12345"), ["phone_invalid"]),
        (row(p, 11, **{"小区": "不存在小区"}), ["unknown_compound"]),
        (row(p, 12, building="9"), ["unknown_building"]),
        (row(p, 13, **{"网格": "不存在网格"}), ["unknown_grid"]),
        (row(p, 14, **{"社区": "不存在社区"}), ["unknown_community"]),
        (row(p, 15, **{"街道": "不存在街道"}), ["unknown_street"]),
        (row(p, 16, **{"社区": p.other_community.name}), ["place_mismatch"]),
        (row(p, 17, **{"网格": p.other_grid.name}), ["place_mismatch"]),
        (row(p, 18, name="长" * 41), ["name_too_long"]),
        (row(p, 19, room="301"), []),
        (row(p, 19, room="301"), ["duplicate_in_file"]),
        (row(p, 20, room="302"), ["two_households_in_file"]),
        (row(p, 20, room="303"), ["two_households_in_file"]),
        (row(p, 21, room="401", relation="户主"), []),
        (row(p, 22, room="401", relation="户主"), ["two_heads_in_file"]),
        (row(p, 23, name="已登记乙", id_number=make_id(501), room="999"), ["registered_elsewhere"]),
        (row(p, 24, name="别人", id_number=make_id(500), building="2", room="201"), ["id_other_name"]),
        (row(p, 25, building="2", room="201", relation="户主"), ["head_exists"]),
        (row(p, 26, name="已登记丙", id_number=make_id(502), building="2", room="201"), []),  # unchanged
        ([*(twin_row | {"小区": "同名小区", "社区": "", "网格": ""}).values()], ["ambiguous_compound"]),
        ([*(twin_row2 | {"小区": "同名小区", "社区": p.community.name, "网格": ""}).values()], []),
        (row(p, 27, name="", id_number="", phone="x"), ["missing_field", "missing_field", "phone_invalid"]),
    ]
    job = upload(kangbashi, admin, xlsx_bytes([c[0] for c in cases]), background=False)
    assert job.status == ImportJob.Status.DONE and job.phase == ImportJob.Phase.CHECK
    with tenant_context(kangbashi):
        found = codes_by_line(job)
        for line, (_cells, expected) in enumerate(cases, start=2):
            assert sorted(found[line]) == sorted(expected), (line, found[line])
        for stored in LedgerRow.objects.filter(job=job, status="rejected"):
            for problem in stored.problems:
                assert problem["zh"] and problem["en"] and problem["column"] in HEADER
                assert problem["field"] in {c.field for c in ledger.COLUMNS}
        messages = {p["code"]: p for r in LedgerRow.objects.filter(job=job) for p in r.problems}
        assert messages["id_checksum"]["zh"].startswith("身份证号最后一位校验码不对")
        assert "checksum" in messages["id_checksum"]["en"]
        assert messages["unknown_building"]["column"] == "楼栋" and "“9”" in messages["unknown_building"]["zh"]
        assert "明月社区" in messages["place_mismatch"]["zh"] or "明月一网格" in messages["place_mismatch"]["zh"]
        assert "(户**)" in messages["id_other_name"]["en"]  # the registered name, masked
        unchanged = LedgerRow.objects.get(job=job, line=2 + 27)
        assert unchanged.status == LedgerRow.Status.UNCHANGED
        assert job.valid_count == 4 and job.unchanged_count == 1
        assert job.rejected_count == len(cases) - 5
        assert job.problem_counts["missing_field"] == 3 and job.problem_counts["two_households_in_file"] == 2
        assert set(ledger.PROBLEM_LABELS) == set(ledger.PROBLEMS)  # every problem has a name for the summary
        # nothing went into the registry; only the upload was audited
        assert registry_counts() == before
        assert list(AuditEntry.objects.filter(target_type="registry.importjob").values_list("action", flat=True)) == [
            "registry.ledger.upload"]
        # no personal number is stored in clear with the row
        for stored in LedgerRow.objects.filter(job=job):
            assert make_id(1) not in stored.data_encrypted and "13900000001" not in stored.data_encrypted
            assert make_id(1) not in str(stored.problems)

        job = ledger.confirm_import(actor=admin, job=job, background=False)
        assert job.status == ImportJob.Status.DONE and job.imported_count == 4
        assert registry_counts()[0] == before[0] + 4
        head = Membership.objects.get(resident__id_number_index=blind_index(make_id(21), "id"))
        assert head.relation == Membership.Relation.HEAD and head.household.room == "401"
        assert list(AuditEntry.objects.filter(target_type="registry.importjob").order_by("id").values_list(
            "action", flat=True)) == ["registry.ledger.upload", "registry.ledger.confirm", "registry.ledger.import"]


def test_missing_required_columns_are_named_and_nothing_is_saved(kangbashi, admin, places):
    header = [h for h in HEADER if h not in ("身份证号", "楼栋")]
    data = xlsx_bytes([["x"] * len(header)], header=header)
    client = client_for(kangbashi, admin)
    response = client.post(f"{API}/imports/", {"file": SimpleUploadedFile("台账.xlsx", data)}, format="multipart")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "missing_columns"
    assert "楼栋" in error["message"] and "身份证号" in error["message"]
    assert "building" in error["message"] and "ID number" in error["message"]
    assert error["fields"]["file"] == ["building", "id_number"]
    with tenant_context(kangbashi):
        assert not ImportJob.objects.exists()


@pytest.mark.parametrize("name,data,code", [
    ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "unsupported_file"),
    ("broken.xlsx", b"PK\x03\x04 not really a zip", "unreadable_file"),
    ("scan.pdf", b"%PDF-1.4", "unsupported_file"),
    ("empty.csv", b"", "invalid"),  # DRF: "The submitted file is empty."
    ("no-header.csv", b"a,b,c\n1,2,3\n", "no_header"),
    ("odd.csv", b"\xff\xfe\x00", "unreadable_file"),
    ("binary.csv", bytes(range(128, 256)) * 4, "unreadable_file"),
])
def test_files_that_cannot_be_read_say_why(kangbashi, admin, name, data, code):
    client = client_for(kangbashi, admin)
    response = client.post(f"{API}/imports/", {"file": SimpleUploadedFile(name, data)}, format="multipart")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]


def test_a_thousand_rows_with_37_bad_import_963_and_return_37_with_reasons(kangbashi, admin, places):
    rows, bad = [], set()
    for n in range(1000):
        if n % 27 == 5 and len(bad) < 37:
            bad.add(n)
            kind = len(bad) % 4
            rows.append(row(places, n, id_number=bad_checksum(make_id(n))) if kind == 0 else
                        row(places, n, phone="1380000") if kind == 1 else
                        row(places, n, building="99") if kind == 2 else
                        row(places, n, name=""))
        else:
            moon = n % 10 == 0
            rows.append(row(places, n, building="1" if moon else str(1 + n % 3), moon=moon))
    assert len(bad) == 37
    client = client_for(kangbashi, admin)
    with tenant_context(kangbashi):
        before = registry_counts()
    response = client.post(f"{API}/imports/", {"file": SimpleUploadedFile("台账.xlsx", xlsx_bytes(rows, title="阳光社区人口台账"))},
                           format="multipart")
    assert response.status_code == 202, response.content
    job = response.json()
    assert (job["phase"], job["status"], job["dry_run"]) == ("check", "done", True)
    assert job["counts"] == {"rows": 1000, "valid": 963, "rejected": 37, "unchanged": 0, "imported": 0,
                             "households_created": 0}
    assert job["links"]["rejected"].endswith(f"/imports/{job['id']}/rejected.xlsx")
    summary = {p["code"]: p for p in job["problem_summary"]}
    assert set(summary) == {"id_checksum", "phone_invalid", "unknown_building", "missing_field"}
    assert sum(p["rows"] for p in summary.values()) == 37 and summary["unknown_building"]["zh"] == "楼栋不存在"

    rejected = client.get(f"{API}/imports/{job['id']}/rows/", {"status": "rejected", "page_size": 50}).json()
    assert rejected["count"] == 37 and all(r["problems"] for r in rejected["results"])
    assert {r["line"] - 3 for r in rejected["results"]} == bad  # title line + header line

    confirmed = client.post(f"{API}/imports/{job['id']}/confirm/")
    assert confirmed.status_code == 202
    done = client.get(f"{API}/imports/{job['id']}/").json()
    assert (done["phase"], done["status"], done["dry_run"]) == ("import", "done", False)
    assert done["counts"]["imported"] == 963 and done["counts"]["rejected"] == 37
    assert done["progress"] == {"done": 963, "total": 963, "percent": 100}
    with tenant_context(kangbashi):
        residents, households, memberships = registry_counts()
        assert residents - before[0] == 963 and memberships - before[2] == 963
        assert households - before[1] == done["counts"]["households_created"] > 0
        good = next(n for n in range(1000) if n not in bad)
        person = Resident.objects.get(id_number_index=blind_index(make_id(good), "id"))
        assert person.id_number == make_id(good) and person.phone == f"+86{row(places, good)[9]}"
        assert person.birth_date is not None and person.gender in ("m", "f")
        assert make_id(good) not in person.id_number_encrypted

    download = client.get(f"{API}/imports/{job['id']}/rejected.xlsx")
    assert download.status_code == 200
    assert download["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "rejected.xlsx" in download["Content-Disposition"]
    sheet = read_xlsx(download.content)
    assert sheet[0] == [*HEADER, "原因 / reason"]
    assert len(sheet) == 38
    by_id = {r[8]: r for r in sheet[1:]}
    for n in bad:
        original = rows[n]
        typed = by_id[original[8]]
        assert [v or None for v in typed[:len(HEADER)]] == [v or None for v in original]  # as the staff typed it
        assert typed[-1] and " / " in typed[-1]


def test_a_csv_in_gb18030_with_a_title_line_imports(kangbashi, admin, places):
    rows = [row(places, n, name=name, relation=rel) for n, (name, rel) in
            enumerate([("张伟", "户主"), ("王芳", "妻"), ("李娜", "女"), ("刘洋", "租户")], start=700)]
    for n, r in enumerate(rows):
        r[HEADER.index("房号")] = "501室"
        r[HEADER.index("楼栋")] = "3号楼"
        r[HEADER.index("单元")] = "2单元"
        r[HEADER.index("联系电话")] = f"139 0000 07{n:02d}"
    data = csv_bytes(rows, encoding="gb18030", title="XX社区人口台账（2026年）")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    job = upload(kangbashi, admin, data, name="台账.csv", background=False)
    assert job.encoding == "gb18030" and job.header_line == 2
    assert job.valid_count == 4, job.problem_counts
    job = confirm(kangbashi, admin, job)
    with tenant_context(kangbashi):
        home = Household.objects.get(building=places.buildings[("sun", 3)], unit="2", room="501")
        assert home.grid_id == places.grid.pk
        relations = {m.resident.name: m.relation for m in Membership.objects.filter(household=home)}
        assert relations == {"张伟": "head", "王芳": "member", "李娜": "member", "刘洋": "tenant"}
        assert Resident.objects.get(name="王芳").phone == "+8613900000701"


@pytest.mark.parametrize("encoding,delimiter", [("utf-8-sig", ","), ("utf-8", ";"), ("utf-16", "\t")])
def test_csv_encodings_and_separators(kangbashi, admin, places, encoding, delimiter):
    data = csv_bytes([row(places, 800 + n) for n in range(3)], encoding=encoding, delimiter=delimiter)
    job = upload(kangbashi, admin, data, name="ledger.csv", background=False)
    assert job.valid_count == 3 and job.rejected_count == 0


def test_english_headers_are_accepted(kangbashi, admin, places):
    header = ["Street", "Community", "Grid", "Compound", "Building", "Unit", "Room", "Name", "ID number",
              "Phone", "Relation", "note"]
    job = upload(kangbashi, admin, xlsx_bytes([row(places, 850)], header=header), background=False)
    assert job.valid_count == 1
    assert job.mapping["id_number"] == 8 and job.columns[8] == "ID number"


def test_importing_the_same_file_twice_adds_nobody_twice(kangbashi, admin, places):
    data = xlsx_bytes([row(places, n, relation="户主" if n % 3 == 0 else "") for n in range(30)])
    first = upload(kangbashi, admin, data, background=False)
    # a second upload of the same file before the first is imported: both dry runs see 30 new people
    second = upload(kangbashi, admin, data, background=False)
    assert first.valid_count == second.valid_count == 30
    confirm(kangbashi, admin, first)
    with tenant_context(kangbashi):
        counts = registry_counts()
    second = confirm(kangbashi, admin, second)
    assert second.imported_count == 0 and second.unchanged_count == 30 and second.rejected_count == 0
    third = upload(kangbashi, admin, data, background=False)
    assert third.valid_count == 0 and third.unchanged_count == 30
    with pytest.raises(Conflict) as nothing:
        confirm(kangbashi, admin, third)
    assert nothing.value.code == "nothing_to_import"
    with tenant_context(kangbashi):
        assert registry_counts() == counts
        assert list(ledger.same_file_jobs(third)) == [second, first] or set(ledger.same_file_jobs(third)) == {
            first, second}
    # confirming again is harmless
    again = confirm(kangbashi, admin, first)
    assert again.imported_count == 30
    with tenant_context(kangbashi):
        assert registry_counts() == counts


def test_a_killed_import_resumes_without_importing_twice(kangbashi, admin, places, monkeypatch):
    monkeypatch.setattr(importing, "CHUNK", 10)
    data = xlsx_bytes([row(places, n) for n in range(45)])
    job = upload(kangbashi, admin, data, background=False)
    real_chunk, calls = importing._import_chunk, []

    def dies_on_the_third_chunk(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise SystemExit("worker killed")  # not an Exception: nothing marks the job failed
        return real_chunk(*args, **kwargs)

    monkeypatch.setattr(importing, "_import_chunk", dies_on_the_third_chunk)
    with pytest.raises(SystemExit):
        confirm(kangbashi, admin, job)
    with tenant_context(kangbashi):
        job.refresh_from_db()
        assert job.status == ImportJob.Status.RUNNING and job.progress_done == 20
        assert Resident.objects.filter(name__startswith="居民").count() == 20
        # acks_late redelivers the task: it continues with the rows not yet imported
        job = ledger.run_job(job_id=job.pk)
        assert job.status == ImportJob.Status.DONE and job.imported_count == 45
        assert Resident.objects.filter(name__startswith="居民").count() == 45
        assert LedgerRow.objects.filter(job=job, status=LedgerRow.Status.IMPORTED).count() == 45
        assert AuditEntry.objects.filter(action="registry.ledger.import", target_id=str(job.pk)).count() == 1
        # and a late duplicate delivery of a finished job does nothing
        assert ledger.run_job(job_id=job.pk).imported_count == 45
        assert Resident.objects.filter(name__startswith="居民").count() == 45


def test_an_import_whose_worker_died_is_resumed_by_the_sweep_within_a_minute(kangbashi, admin, places, monkeypatch):
    """The whole worker died mid-import: no redelivery comes soon. Its heartbeat stops; within a minute
    the registry's sweep queues it again and it finishes, nobody imported twice. A job that still beats
    is left alone."""
    import datetime as dt

    from django.utils import timezone

    from config.celery import app
    from kernel import jobs
    from modules.registry import tasks

    monkeypatch.setattr(importing, "CHUNK", 10)
    job = upload(kangbashi, admin, xlsx_bytes([row(places, n) for n in range(45)]), background=False)
    real_chunk, calls = importing._import_chunk, []

    def dies_on_the_third_chunk(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise SystemExit("worker killed")
        return real_chunk(*args, **kwargs)

    monkeypatch.setattr(importing, "_import_chunk", dies_on_the_third_chunk)
    with pytest.raises(SystemExit):
        confirm(kangbashi, admin, job)
    monkeypatch.setattr(importing, "_import_chunk", real_chunk)
    monkeypatch.setitem(app.conf, "task_always_eager", True)  # what the sweep queues runs here, now
    with tenant_context(kangbashi):
        job.refresh_from_db()
        assert job.status == ImportJob.Status.RUNNING and job.progress_done == 20 and job.heartbeat_at
        assert tasks.resume_dead_jobs()["ledger_jobs"] == []  # it beat just now: alive, left alone
        ImportJob.objects.filter(pk=job.pk).update(
            heartbeat_at=timezone.now() - dt.timedelta(seconds=jobs.JOB_STALE_SECONDS + 5))
        assert tasks.resume_dead_jobs()["ledger_jobs"] == [job.pk]
    with tenant_context(kangbashi):
        job.refresh_from_db()
        assert job.status == ImportJob.Status.DONE and job.imported_count == 45
        assert Resident.objects.filter(name__startswith="居民").count() == 45
        assert tasks.resume_dead_jobs()["ledger_jobs"] == []


def test_a_failed_import_says_so_and_confirming_again_resumes_it(kangbashi, admin, places, monkeypatch):
    monkeypatch.setattr(importing, "CHUNK", 5)
    job = upload(kangbashi, admin, xlsx_bytes([row(places, n) for n in range(12)]), background=False)
    real_chunk, calls = importing._import_chunk, []

    def fails_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("database went away")
        return real_chunk(*args, **kwargs)

    monkeypatch.setattr(importing, "_import_chunk", fails_once)
    job = confirm(kangbashi, admin, job)
    assert job.status == ImportJob.Status.FAILED and "logged" in job.error and "database" not in job.error
    assert job.imported_count == 5
    job = confirm(kangbashi, admin, job)  # confirming a failed import resumes it
    assert job.status == ImportJob.Status.DONE and job.imported_count == 12 and not job.error
    with tenant_context(kangbashi):
        assert Resident.objects.filter(name__startswith="居民").count() == 12
        assert AuditEntry.objects.filter(action="registry.ledger.retry", target_id=str(job.pk)).count() == 1


def test_someone_registered_between_dry_run_and_import_is_not_duplicated(kangbashi, admin, places):
    job = upload(kangbashi, admin, xlsx_bytes([row(places, n) for n in range(3)]), background=False)
    assert job.valid_count == 3
    with tenant_context(kangbashi):
        services.register_resident(actor=admin, name="居民1", id_number=make_id(1))  # no household yet
        services.register_resident(actor=admin, name="改名了", id_number=make_id(2))
    job = confirm(kangbashi, admin, job)
    assert job.imported_count == 2 and job.rejected_count == 1
    with tenant_context(kangbashi):
        bound = Resident.objects.get(name="居民1")
        assert bound.memberships.filter(ended_at__isnull=True).count() == 1  # bound, not registered again
        rejected = LedgerRow.objects.get(job=job, status="rejected")
        assert [p["code"] for p in rejected.problems] == ["id_other_name"]
    sheet = read_xlsx(_rejected(kangbashi, job))
    assert len(sheet) == 2 and "另一姓名" in sheet[1][-1]


def _rejected(district, job) -> bytes:
    with tenant_context(district):
        return ledger.rejected_workbook(job)[0]


def test_community_staff_import_only_into_their_area(kangbashi, places):
    staff = make_user(kangbashi, "ledger-staff", "community_staff", "community", places.community.code)
    data = xlsx_bytes([row(places, 900), row(places, 901, moon=True)])
    job = upload(kangbashi, staff, data, background=False)
    with tenant_context(kangbashi):
        assert codes_by_line(job) == {2: [], 3: ["outside_scope"]}
    grid_worker = make_user(kangbashi, "ledger-grid", "grid_worker", "grid", places.grid.code)
    client = client_for(kangbashi, grid_worker)
    response = client.post(f"{API}/imports/", {"file": SimpleUploadedFile("a.xlsx", data)}, format="multipart")
    assert response.status_code == 403
    with tenant_context(kangbashi):
        with pytest.raises(DomainError):
            ledger.upload_ledger(actor=grid_worker, file=SimpleUploadedFile("a.xlsx", data))
    # another staff member does not see or confirm this job; the admin does
    other = make_user(kangbashi, "ledger-staff2", "community_staff", "community", places.community.code)
    assert client_for(kangbashi, other).get(f"{API}/imports/{job.pk}/").status_code == 404
    assert client_for(kangbashi, other).post(f"{API}/imports/{job.pk}/confirm/").status_code == 404
    mine = client_for(kangbashi, staff)
    assert mine.get(f"{API}/imports/").json()["count"] == 1
    assert mine.post(f"{API}/imports/{job.pk}/confirm/").status_code == 202


def test_report_rows_are_paginated_and_masked(kangbashi, admin, places):
    staff = make_user(kangbashi, "ledger-viewer", "community_staff", "street", places.street.code)
    data = xlsx_bytes([row(places, n, phone="1") for n in range(12)])
    job = upload(kangbashi, staff, data, background=False)
    client = client_for(kangbashi, staff)
    page = client.get(f"{API}/imports/{job.pk}/rows/", {"page_size": 5, "page": 2}).json()
    assert page["count"] == 12 and [r["line"] for r in page["results"]] == [7, 8, 9, 10, 11]
    shown = page["results"][0]["row"]
    assert shown["name"] == "居民5" and shown["id_number"] == make_id(5)[:6] + "********" + make_id(5)[-4:]
    assert page["results"][0]["problems"][0]["code"] == "phone_invalid"
    full = client_for(kangbashi, admin).get(f"{API}/imports/{job.pk}/rows/", {"page_size": 1}).json()
    assert full["results"][0]["row"]["id_number"] == make_id(0)  # district admins see full numbers
    assert client.get(f"{API}/imports/{job.pk}/rows/", {"status": "valid"}).json()["count"] == 0


def test_uploaded_files_are_stored_encrypted_under_the_district_prefix(kangbashi, admin, places):
    job = upload(kangbashi, admin, xlsx_bytes([row(places, 950), row(places, 951, name="")]), background=False)
    with tenant_context(kangbashi):
        path = job.file.path
        assert f"/{kangbashi.schema_name}/registry/ledger/" in path and "台账" not in path
        with open(path, "rb") as fh:
            stored = fh.read()
        assert not stored.startswith(b"PK") and b"110101" not in stored
        rejected_path = job.rejected_file.path
        assert f"/{kangbashi.schema_name}/" in rejected_path
        with open(rejected_path, "rb") as fh:
            assert not fh.read().startswith(b"PK")


def test_confirm_needs_a_finished_dry_run(kangbashi, admin, places):
    with tenant_context(kangbashi):
        job = ledger.upload_ledger(actor=admin, file=SimpleUploadedFile("a.xlsx", xlsx_bytes([row(places, 1)])),
                                   background=True)  # queued; no worker in this test
        assert job.status == ImportJob.Status.QUEUED
        with pytest.raises(Conflict) as early:
            ledger.confirm_import(actor=admin, job=job)
        assert early.value.code == "not_checked"
    connection.set_schema_to_public()


def test_staff_pages_upload_report_confirm_and_download(kangbashi, admin, places):
    client = client_for(kangbashi, admin)
    page = client.get("/registry/ledger/")
    assert page.status_code == 200 and "ledger-upload" in page.content.decode()
    data = xlsx_bytes([row(places, 960), row(places, 961, building="77")])
    response = client.post("/registry/ledger/", {"file": SimpleUploadedFile("台账.xlsx", data)})
    assert response.status_code == 302
    job_url = response["Location"]
    report = client.get(job_url).content.decode()
    assert "楼栋“77”" in report and 'data-testid="confirm"' in report
    assert client.get(job_url + "?show=valid").content.decode().count("居民960") == 1
    assert client.post(job_url).status_code == 302
    with tenant_context(kangbashi):
        job = ImportJob.objects.get()
        assert job.imported_count == 1
    download = client.get(job_url + "rejected.xlsx")
    assert download.status_code == 200 and len(read_xlsx(download.content)) == 2
    bad = client.post("/registry/ledger/", {"file": SimpleUploadedFile("x.pdf", b"%PDF")}, follow=True)
    assert "Excel (.xlsx)" in bad.content.decode()
    grid_worker = make_user(kangbashi, "ledger-page-grid", "grid_worker", "grid", places.grid.code)
    assert client_for(kangbashi, grid_worker).get("/registry/ledger/").status_code == 403
    assert client_for(kangbashi).get("/registry/ledger/").status_code == 302


def test_a_big_file_shows_progress_while_a_worker_runs_it(kangbashi, admin, places, monkeypatch):
    monkeypatch.setattr(ledger_services, "INLINE_MAX_ROWS", 0)
    client = client_for(kangbashi, admin)
    response = client.post(f"{API}/imports/", {"file": SimpleUploadedFile("a.xlsx", xlsx_bytes([row(places, 1)]))},
                           format="multipart")
    assert response.status_code == 202
    job = response.json()
    assert job["status"] == "queued" and job["progress"]["total"] == 1 and job["progress"]["percent"] == 0
    page = client.get(f"/registry/ledger/{job['id']}/").content.decode()
    assert 'role="progressbar"' in page and f"{API}/imports/{job['id']}/" in page


def test_an_upload_queued_while_the_broker_refuses_stays_queued_and_the_sweep_runs_it(
        kangbashi, admin, places, monkeypatch, django_capture_on_commit_callbacks):
    """Issue 10's defect: with the broker refusing connections the job was marked FAILED. Now it stays
    QUEUED (the kick is lost, nothing else), and the registry's sweep runs it once it has waited."""
    import datetime as dt

    from django.utils import timezone

    from config.celery import app
    from kernel import jobs
    from modules.registry import tasks
    from tests.broker import refusing_broker

    monkeypatch.setattr(ledger_services, "INLINE_MAX_ROWS", 0)
    client = client_for(kangbashi, admin)
    with refusing_broker(monkeypatch), django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{API}/imports/", {"file": SimpleUploadedFile("a.xlsx", xlsx_bytes([row(places, 1)]))},
                               format="multipart")
    assert response.status_code == 202 and response.json()["status"] == "queued"
    with tenant_context(kangbashi):
        job = ImportJob.objects.get(pk=response.json()["id"])
        assert job.status == ImportJob.Status.QUEUED and not job.error
        assert tasks.resume_dead_jobs()["ledger_jobs"] == []  # just queued: its task may be on its way
        ImportJob.objects.filter(pk=job.pk).update(
            updated_at=timezone.now() - dt.timedelta(seconds=jobs.QUEUED_STALE_SECONDS + 5))
        monkeypatch.setitem(app.conf, "task_always_eager", True)  # what the sweep queues runs here, now
        assert tasks.resume_dead_jobs()["ledger_jobs"] == [job.pk]
    with tenant_context(kangbashi):
        job.refresh_from_db()
        assert (job.phase, job.status, job.valid_count) == (ImportJob.Phase.CHECK, ImportJob.Status.DONE, 1)


# --- a real Celery worker ------------------------------------------------------------------------------

@pytest.mark.worker
def test_import_through_a_real_celery_worker(celery_worker, django_db_blocker, monkeypatch):
    """Committed for real (the worker is another process), in the "worker" district; cleaned up after."""
    import secrets

    from tenants.models import District

    monkeypatch.setattr(ledger_services, "INLINE_MAX_ROWS", 0)  # everything goes to the worker
    prefix = f"W{secrets.token_hex(2).upper()}"
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        district = District.objects.get(slug="worker")
        admin = admin_of(district)
        places = build_places(district, admin, prefix=prefix)
        rows = [row(places, 5000 + n, building=str(1 + n % 3)) for n in range(120)]
        rows[7][HEADER.index("身份证号")] = bad_checksum(rows[7][HEADER.index("身份证号")])
        jobs = []
        try:
            job = upload(district, admin, xlsx_bytes(rows))
            jobs.append(job.pk)
            assert job.status == ImportJob.Status.QUEUED

            def state(phase):
                with tenant_context(district):
                    j = ImportJob.objects.get(pk=job.pk)
                    return j if j.phase == phase and j.status in ("done", "failed") else None

            checked = wait_for(lambda: state("check"), timeout=90)
            assert checked and checked.status == "done", checked and checked.error
            assert (checked.valid_count, checked.rejected_count) == (119, 1)
            assert checked.progress_done == checked.progress_total == 120
            with tenant_context(district):
                ledger.confirm_import(actor=admin, job=checked)
            imported = wait_for(lambda: state("import"), timeout=90)
            assert imported and imported.status == "done", imported and imported.error
            assert imported.imported_count == 119 and imported.progress_done == 119
            with tenant_context(district):
                assert Resident.objects.filter(memberships__household__grid=places.grid).count() == 119
                assert AuditEntry.objects.filter(action="registry.ledger.import", target_id=str(job.pk)).exists()
            with tenant_context(district):  # the rejected row comes back from what the worker wrote
                assert len(read_xlsx(ledger.rejected_workbook(imported)[0])) == 2
        finally:
            remove_places(district, places, jobs)
        connection.set_schema_to_public()
