"""Bad input gets a clear 4xx in the one error shape and nothing is saved (issue 10, items 7–10, 13):
bodies over the size limit (413), JSON nested too deep (400), invalid UTF-8 in form and multipart
fields (400 naming the field, as for JSON), writable fields the schema documents (officials and
merchants, JSON and form-encoded), spreadsheets that do not open, and human text (names, titles)."""
from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.db import connection
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
    from modules.cases import integrations

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
    assert 'data-testid="error-page"' in html and "kangbashi" in html
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
    assert "The file is not a readable .xlsx workbook" in page.content.decode()
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
    assert "cut short" in xlsx_problem(cut_workbook())
