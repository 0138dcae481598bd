"""Bad input gets a clear 4xx in the one error shape and nothing is saved (issue 10, items 7–10, 13):
bodies over the size limit (413), JSON nested too deep (400), invalid UTF-8 in form and multipart
fields (400 naming the field, as for JSON), writable fields the schema documents (officials and
merchants, JSON and form-encoded), spreadsheets that do not open, and human text (names, titles)."""
from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.db import connection
from django.utils import translation
from django_tenants.utils import tenant_context

from modules.cases.models import Case
from modules.registry.models import Merchant, Official
from tests.conftest import admin_of, client_for

pytestmark = pytest.mark.django_db


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["status"] == status and body["error"]["code"] and body["error"]["message"]
    return body["error"]


def count(district, model, **filters) -> int:
    with tenant_context(district):
        n = model.objects.filter(**filters).count()
    connection.set_schema_to_public()
    return n


def too_big_json() -> str:
    return json.dumps({"category": "corridor_clutter", "title": "楼道堆物",
                       "description": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)})


def deep_json(depth: int = 100_000) -> str:
    return "[" * depth + "]" * depth


# --- item 7: too big -> 413, too deep -> 400 -------------------------------------------------------

def test_a_body_over_the_limit_is_413_on_cases_intake_and_points(world, kangbashi):
    from modules.cases.intake import integrations

    resident = client_for(world.district, world.reporter)
    error = error_of(resident.post("/api/v1/cases/", too_big_json(), content_type="application/json"), 413)
    assert error["code"] == "too_large" and "MB" in error["message"]
    with tenant_context(world.district):
        _, key = integrations.create_integration(actor=world.admin, name="12345 热线", kind="hotline")
    connection.set_schema_to_public()
    hotline = client_for(world.district)
    hotline.credentials(HTTP_AUTHORIZATION=f"Integration {key}")
    error_of(hotline.post("/api/v1/cases/intake/", too_big_json(), content_type="application/json"), 413)
    admin = client_for(kangbashi, admin_of(kangbashi))
    error_of(admin.post("/api/v1/points/entries/", too_big_json(), content_type="application/json"), 413)
    # form-encoded and multipart fields count the same
    form = f"title=a&description={'x' * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)}"
    error_of(resident.post("/api/v1/cases/", form, content_type="application/x-www-form-urlencoded"), 413)
    error_of(resident.post("/api/v1/cases/", {"title": "a", "description": "x" * (
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)}, format="multipart"), 413)
    assert count(world.district, Case) == 0


def test_too_many_form_fields_is_400(world):
    resident = client_for(world.district, world.reporter)
    form = "&".join(f"f{i}=1" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 5))
    error_of(resident.post("/api/v1/cases/", form, content_type="application/x-www-form-urlencoded"), 400)
    assert count(world.district, Case) == 0


def test_json_nested_too_deep_is_400(world, kangbashi):
    resident = client_for(world.district, world.reporter)
    error = error_of(resident.post("/api/v1/cases/", deep_json(), content_type="application/json"), 400)
    assert error["code"] == "parse_error" and "deep" in error["message"]
    # an object nested deep inside an otherwise fine body too
    body = '{"category": "corridor_clutter", "title": "t", "extra": ' + deep_json(50_000) + "}"
    error_of(resident.post("/api/v1/cases/", body, content_type="application/json"), 400)
    admin = client_for(kangbashi, admin_of(kangbashi))
    error_of(admin.post("/api/v1/points/entries/", deep_json(), content_type="application/json"), 400)
    assert count(world.district, Case) == 0


def test_a_too_big_report_form_gets_a_branded_413_page(world):
    client = client_for(world.district, world.reporter)
    response = client.post("/cases/report/", {"title": "楼道堆物", "description": "x" * (
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)}, format="multipart", HTTP_ACCEPT="text/html")
    assert response.status_code == 413
    html = response.content.decode()
    assert 'data-testid="error-page"' in html and "kangbashi" in html.lower()
    assert count(world.district, Case) == 0


# --- item 8: officials and merchants take what the schema documents ---------------------------------

def test_officials_and_merchants_take_active_as_json_and_form(world):
    admin = client_for(world.district, world.admin)
    made = admin.post("/api/v1/registry/officials/", {"name": "李明", "department": "urban", "post": "科长",
                                                      "active": False}, format="json")
    assert made.status_code == 201, made.content
    assert made.json()["active"] is False
    form = admin.post("/api/v1/registry/officials/", {"name": "王芳", "department": "urban", "post": "科员"})
    assert form.status_code == 201, form.content  # form-encoded (APIClient's default is multipart)
    encoded = admin.post("/api/v1/registry/officials/", "name=赵强&department=urban&post=科员&active=true",
                         content_type="application/x-www-form-urlencoded")
    assert encoded.status_code == 201, encoded.content
    assert encoded.json()["active"] is True
    with tenant_context(world.district):
        assert dict(Official.objects.values_list("name", "active")) == {"李明": False, "王芳": True, "赵强": True}
    connection.set_schema_to_public()
    shop = admin.post("/api/v1/registry/merchants/", {"name": "康和超市", "grid": "G0101", "active": False},
                      format="json")
    assert shop.status_code == 201, shop.content
    assert shop.json()["active"] is False
    stall = admin.post("/api/v1/registry/merchants/", "name=烤红薯&kind=stall&licensed_place=东门",
                       content_type="application/x-www-form-urlencoded")
    assert stall.status_code == 201, stall.content
    assert count(world.district, Merchant) == 2


# --- item 9: invalid UTF-8 in form fields is refused like in JSON -----------------------------------

BAD = b"\xe4\xb8( bad"  # a cut-off UTF-8 sequence


def test_invalid_utf8_is_refused_in_json_form_and_multipart_naming_the_field(world):
    resident = client_for(world.district, world.reporter)
    as_json = resident.post("/api/v1/cases/", b'{"category": "corridor_clutter", "title": "' + BAD + b'"}',
                            content_type="application/json")
    error_of(as_json, 400)
    form = b"category=corridor_clutter&title=" + BAD.replace(b" ", b"+")
    error = error_of(resident.post("/api/v1/cases/", form, content_type="application/x-www-form-urlencoded"), 400)
    assert error["fields"] == {"title": [error["fields"]["title"][0]]} and "UTF-8" in error["message"]
    percent = b"category=corridor_clutter&title=%E4%B8%28+bad"  # the same bytes percent-encoded
    error = error_of(resident.post("/api/v1/cases/", percent, content_type="application/x-www-form-urlencoded"), 400)
    assert "title" in error["fields"]
    boundary = "BoUnDaRy"
    multipart = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"category\"\r\n\r\ncorridor_clutter\r\n"
                 f"--{boundary}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\n").encode() + BAD + (
                     f"\r\n--{boundary}--\r\n").encode()
    error = error_of(resident.post("/api/v1/cases/", multipart, content_type=f"multipart/form-data; boundary={boundary}"),
                     400)
    assert "title" in error["fields"]
    assert count(world.district, Case) == 0


def test_invalid_utf8_in_the_report_page_form_is_refused(world):
    client = client_for(world.district, world.reporter)
    form = b"category=corridor_clutter&title=%E4%B8%28+bad&description=x"
    response = client.post("/cases/report/", form, content_type="application/x-www-form-urlencoded",
                           HTTP_ACCEPT="text/html")
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-testid="error-page"' in html and "title" in html
    assert count(world.district, Case) == 0


# --- item 10: a workbook that does not read to its end is refused before anything is accepted -------

def cut_workbook(rows: int = 400) -> bytes:
    """A real .xlsx whose sheet is cut off in the middle (the zip itself is whole): openpyxl opens it
    and reads the first rows, and fails only at the cut."""
    import io
    import zipfile

    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["街道", "社区", "网格", "小区", "楼栋", "单元", "房号", "姓名", "身份证号", "联系电话"])
    for n in range(rows):
        book.active.append(["青春山街道", "康和社区", "第一网格", "康和小区", "1", "1", str(100 + n), f"居民{n}",
                            "11010519491231002X", "13912345678"])
    whole = io.BytesIO()
    book.save(whole)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(whole.getvalue())) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                body = body[: len(body) // 2]
            dst.writestr(info, body)
    return out.getvalue()


def test_a_cut_workbook_is_refused_at_upload_saying_what_is_wrong(kangbashi):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from modules.points.models import Batch
    from modules.registry.models import ImportJob

    admin = client_for(kangbashi, admin_of(kangbashi))
    data = cut_workbook()
    ledger = error_of(admin.post("/api/v1/registry/imports/", {"file": SimpleUploadedFile("台账.xlsx", data)},
                                 format="multipart"), 400)
    assert ledger["code"] == "unreadable_file"
    assert ledger["message"].startswith("The file is not a readable .xlsx workbook: the part xl/worksheets/sheet1.xml")
    assert "file" in ledger["fields"]
    short = error_of(admin.post("/api/v1/registry/imports/", {"file": SimpleUploadedFile("台账.xlsx", data[:-100])},
                                format="multipart"), 400)
    assert short["message"].startswith("The file is not a readable .xlsx workbook: it is not a complete")
    batch = error_of(admin.post("/api/v1/points/batches/", {"rule": "any", "points": 5, "reason": "演练",
                                                            "file": SimpleUploadedFile("名单.xlsx", data)},
                                format="multipart"), 400)
    assert batch["code"] == "unreadable_file" and "sheet1.xml" in batch["message"]
    # the staff page that uploads says the same
    page = admin.post("/registry/ledger/", {"file": SimpleUploadedFile("台账.xlsx", data)}, format="multipart",
                      follow=True)
    assert "该文件不是可读取的 .xlsx 工作簿" in page.content.decode()  # pages speak zh-Hans first
    assert count(kangbashi, ImportJob) == 0 and count(kangbashi, Batch) == 0


def test_a_workbook_that_reads_to_its_end_passes_the_check():
    import io

    import openpyxl

    from kernel.workbooks import xlsx_problem

    book = openpyxl.Workbook()
    book.active.append(["身份证号"])
    out = io.BytesIO()
    book.save(out)
    assert xlsx_problem(out.getvalue()) is None
    with translation.override("en"):
        assert "cut short" in xlsx_problem(cut_workbook())


# --- item 13: human text is checked in one place (kernel.text) for every name and title -------------

@pytest.mark.parametrize("value,problem", [
    ("0", "letter"), ("123-45", "letter"), ("...", "letter"), ("", "empty"), ("   ", "empty"),
    ("康和\x00社区", "U+0000"), ("康和\x07社区", "U+0007"), ("康和\u202e社区", "U+202E"), ("\ufeff康和", "U+FEFF"),
    ("���( bad", "UTF-8"), ("康和\udc80社区", "UTF-8"), ("康" * 81, "At most 80"),
], ids=["zero", "digits", "dots", "empty", "blank", "nul", "bell", "rtl-override", "bom", "fffd", "surrogate",
        "long"])
def test_bad_names_are_refused_saying_why(value, problem):
    from django.utils import translation

    from kernel.errors import DomainError
    from kernel.text import clean_name

    with pytest.raises(DomainError) as bad, translation.override("en"):
        clean_name(value, max_length=80)
    assert problem in bad.value.message and bad.value.fields["name"]


def test_good_text_is_trimmed_and_normalised():
    from kernel.text import clean_name, clean_text

    assert clean_name("  康和社区\u3000", max_length=80) == "康和社区"
    assert clean_name("Cafe\u0301 1号", max_length=80) == "Café 1号"  # NFC
    assert clean_name("第一\n网格", max_length=80) == "第一 网格"  # one line
    assert clean_name("👨\u200d👩\u200d👧 家", max_length=80) == "👨\u200d👩\u200d👧 家"  # emoji joiners are text
    assert clean_text("三楼\r\n\t东侧", field="description", max_length=100, multiline=True) == "三楼\n\t东侧"
    assert clean_text("3", field="number", max_length=20) == "3"  # numbers are fine where they are not names
    assert clean_text("", field="note", max_length=20, required=False) == ""


def test_places_officials_and_merchants_refuse_bad_names_and_save_nothing(world):
    from modules.registry.models import Street

    admin = client_for(world.district, world.admin)
    for name in ("0", "青春\x00街道", "\x1b[31m红", "��"):
        error = error_of(admin.post("/api/v1/registry/streets/", {"code": "S09", "name": name}, format="json"), 400)
        assert list(error["fields"]) == ["name"]
    error = error_of(admin.post("/api/v1/registry/communities/", {"code": "C09", "name": "4", "street": "S01"},
                                format="json"), 400)
    assert "name" in error["fields"]
    error_of(admin.post("/api/v1/registry/grids/", {"code": "G09", "name": "网格\x7f", "community": "C01"},
                        format="json"), 400)
    error_of(admin.post("/api/v1/registry/compounds/", {"code": "X09", "name": "###", "grid": "G0101"},
                        format="json"), 400)
    error_of(admin.post("/api/v1/registry/officials/", {"name": "1", "department": "urban", "post": "科长"},
                        format="json"), 400)
    error_of(admin.post("/api/v1/registry/merchants/", {"name": "超市\u0000"}, format="json"), 400)
    made = admin.post("/api/v1/registry/streets/", {"code": "S09", "name": "  滨河\u3000街道 "}, format="json")
    assert made.status_code == 201 and made.json()["name"] == "滨河\u3000街道"
    with tenant_context(world.district):
        assert Street.objects.count() == 3  # two of build_places and the good one
        assert not Official.objects.filter(name="1").exists() and not Merchant.objects.exists()
    connection.set_schema_to_public()
    # residents' pickers never see them
    picker = client_for(world.district, world.gw1).get("/api/v1/registry/streets/").json()["results"]
    assert all(s["name"] and s["name"] != "0" for s in picker)


def test_residents_names_are_checked_when_registered_and_corrected(world):
    from kernel.errors import DomainError
    from modules.registry import services
    from modules.registry.models import Resident

    with tenant_context(world.district):
        before = Resident.objects.count()
        for name in ("0", "张\x00三"):
            with pytest.raises(DomainError) as bad:
                services.register_resident(actor=None, name=name)
            assert "name" in bad.value.fields
        resident = Resident.objects.first()
        with pytest.raises(DomainError):
            services.correct_resident(actor=None, resident=resident, name="\x08\x08")
        assert Resident.objects.count() == before
    connection.set_schema_to_public()


def test_case_titles_and_descriptions_go_through_the_shared_check(world):
    resident = client_for(world.district, world.reporter)
    for body in ({"title": "楼道\x00堆物"}, {"title": "楼道堆物", "description": "三楼\x1b东侧"},
                 {"title": "\u202e物堆道楼"}):
        error = error_of(resident.post("/api/v1/cases/", {"category": "corridor_clutter", **body}, format="json"), 400)
        assert set(error["fields"]) <= {"title", "description"} and error["fields"]
    assert count(world.district, Case) == 0
    made = resident.post("/api/v1/cases/", {"category": "corridor_clutter", "title": " 楼道堆物 ",
                                            "description": "三楼\r\n东侧"}, format="json")
    assert made.status_code == 201, made.content
    with tenant_context(world.district):
        case = Case.objects.get()
        assert (case.title, case.description) == ("楼道堆物", "三楼\n东侧")
    connection.set_schema_to_public()


def test_categories_rules_batches_notices_branding_and_integrations_check_their_names(world, kangbashi):
    from kernel.errors import DomainError
    from modules.cases import services as cases
    from modules.cases.intake import integrations
    from modules.cases.models import Category, Integration
    from modules.notices.models import Notice
    from modules.notices.services import publish_notice
    from modules.points.ledger import rules as points
    from modules.points.models import Rule
    from tenants.services import update_branding

    def refused(call, field):
        with pytest.raises(DomainError) as bad:
            call()
        assert field in bad.value.fields, bad.value.fields

    with tenant_context(kangbashi):
        categories, rules, notices = Category.objects.count(), Rule.objects.count(), Notice.objects.count()
        refused(lambda: cases.save_category(actor=admin_of(kangbashi), code="x_bad", name_zh="0"), "name_zh")
        refused(lambda: cases.save_category(actor=admin_of(kangbashi), code="x_bad", name_zh="井盖", name_en="\x00"), "name_en")
        refused(lambda: points.create_rule(actor=None, code="t_bad", name_zh="0", direction="add", category="test",
                                           min_points=1, max_points=10, default_points=2), "name_zh")
        refused(lambda: publish_notice(actor=world.admin, title="通知\x00", body="x", category="news"), "title")
        refused(lambda: publish_notice(actor=world.admin, title="通知", body="x\x1by", category="news"), "body")
        refused(lambda: integrations.create_integration(actor=world.admin, name="12345\x00", kind="hotline"), "name")
        assert (Category.objects.count(), Rule.objects.count(), Notice.objects.count()) == (categories, rules, notices)
        assert not Integration.objects.exists()
    refused(lambda: update_branding(actor=None, district=kangbashi, title_zh="\x00康巴什"), "title_zh")
    connection.set_schema_to_public()
    from tenants.models import District

    assert "\x00" not in District.objects.get(pk=kangbashi.pk).title_zh


def test_batch_titles_are_checked(world, kangbashi):
    admin = client_for(kangbashi, admin_of(kangbashi))
    with tenant_context(kangbashi):
        from modules.points.ledger import rules as points
        from modules.points.models import Batch

        points.create_rule(actor=None, code="t_batch", name_zh="测试规则", direction="add", category="test",
                           min_points=1, max_points=10, default_points=2)
    connection.set_schema_to_public()
    error = error_of(admin.post("/api/v1/points/batches/", {"rule": "t_batch", "points": 2, "reason": "演练",
                                                            "title": "批次\x1b[0m", "resident_ids": [1]},
                                format="json"), 400)
    assert "title" in error["fields"]
    assert count(kangbashi, Batch) == 0


def test_ledger_rows_with_bad_names_are_rejected_in_words(kangbashi):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from modules.registry import ledger
    from modules.registry.models import LedgerRow
    from tests.registry import build_places, csv_bytes, row

    admin = admin_of(kangbashi)
    places = build_places(kangbashi, admin)
    data = csv_bytes([row(places, 1, name="0"), row(places, 2, name="张\x07三"), row(places, 3)])
    with tenant_context(kangbashi):
        job = ledger.upload_ledger(actor=admin, file=SimpleUploadedFile("台账.csv", data), background=False)
        problems = {r.line: r.problems for r in LedgerRow.objects.filter(job=job)}
    connection.set_schema_to_public()
    assert [p["code"] for p in problems[2]] == ["name_invalid"] and "not only digits" in problems[2][0]["en"]
    assert [p["code"] for p in problems[3]] == ["name_invalid"]
    assert problems[4] == []


def test_the_django_admin_checks_names_too(world):
    from modules.registry.models import Street

    admin = client_for(world.district, world.admin)
    response = admin.post("/admin/registry/street/add/", {"code": "S77", "name": "0"}, format="multipart")
    assert response.status_code == 200 and "至少要有一个汉字或字母" in response.content.decode()
    with tenant_context(world.district):
        assert not Street.objects.filter(code="S77").exists()
    connection.set_schema_to_public()
