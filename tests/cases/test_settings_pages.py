"""The district admin's settings pages of cases (responsibility list, categories, holidays,
integrations) and the figures page, through the portal with a signed-in browser session."""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django_tenants.utils import tenant_context

from kernel.models import AuditEntry
from modules.cases import selectors, services
from modules.cases.intake import integrations
from modules.cases.models import Category, Holiday, Integration, ResponsibilityList
from tests.conftest import client_for as _client_for


def client_for(*args, **kwargs):
    """These tests read the pages' English text (the visitor chose English with the switch)."""
    from django.conf import settings

    client = _client_for(*args, **kwargs)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client

pytestmark = pytest.mark.django_db

SETTINGS = "/cases/settings/"
EDIT = "/cases/settings/list/edit/"
UPLOAD = "/cases/settings/list/upload/"
TEMPLATE = "/cases/settings/list/template.xlsx"
CATEGORIES = "/cases/settings/categories/"
HOLIDAYS = "/cases/settings/holidays/"
INTEGRATIONS = "/cases/settings/integrations/"
FIGURES = "/cases/figures/"
EXPORT = "/cases/figures/export/"


def versions(d) -> list[int]:
    with tenant_context(d):
        return list(ResponsibilityList.objects.order_by("version").values_list("version", flat=True))


def current_items(d) -> list[tuple]:
    with tenant_context(d):
        rlist = selectors.current_rlist()
        return sorted((i.category.code, i.area_kind, i.area_code, i.unit_kind, i.unit_code, i.response_amount,
                       i.response_unit, i.resolution_amount, i.resolution_unit)
                      for i in rlist.items.select_related("category"))


def form_rows(rows: list[dict], note: str = "") -> dict:
    data = {"note": note}
    for i, row in enumerate(rows):
        for field, value in row.items():
            data[f"r-{i}-{field}"] = value
    return data


def seed_rows(d) -> list[dict]:
    return [{"category": c, "area_kind": ak, "area_code": ac, "unit_kind": uk, "unit_code": uc,
             "response_amount": str(ra), "response_unit": ru, "resolution_amount": str(sa), "resolution_unit": su}
            for c, ak, ac, uk, uc, ra, ru, sa, su in current_items(d)]


def xlsx(rows: list[list]) -> SimpleUploadedFile:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return SimpleUploadedFile("list.xlsx", out.getvalue())


# --- who may ---------------------------------------------------------------------------------------

def test_settings_pages_are_for_district_admins_only(world):
    d = world.district
    admin, staff, worker = client_for(d, world.admin), client_for(d, world.staff_c1), client_for(d, world.gw1)
    pages = [SETTINGS, EDIT, TEMPLATE, CATEGORIES, HOLIDAYS, INTEGRATIONS, "/cases/settings/list/v1/",
             "/cases/settings/holidays/2026.xlsx"]
    for url in pages:
        assert admin.get(url).status_code == 200, url
        assert staff.get(url).status_code == 403, url
        assert worker.get(url).status_code == 403, url
        assert client_for(d).get(url).status_code == 302, url  # to sign in
    # writes are refused the same way, and change nothing
    assert staff.post(HOLIDAYS, {"action": "paste", "lines": "2027-01-01 休 元旦"}).status_code == 403
    assert staff.post(EDIT, form_rows(seed_rows(d)[:1])).status_code == 403
    assert staff.post(INTEGRATIONS, {"action": "create", "name": "12345", "kind": "hotline"}).status_code == 403
    with tenant_context(d):
        assert not Holiday.objects.filter(date=dt.date(2027, 1, 1)).exists()
        assert not Integration.objects.exists()
    assert versions(d) == [1]
    page = admin.get(SETTINGS).content.decode()
    assert 'data-testid="rlist-items"' in page and "corridor_clutter" in page and "v1" in page


# --- the responsibility list ---------------------------------------------------------------------------

def test_a_new_version_from_the_form(world):
    d = world.district
    admin = client_for(d, world.admin)
    page = admin.get(EDIT).content.decode()
    assert 'name="r-8-category"' in page and 'name="r-9-category"' in page  # 9 seed rows, then blank rows
    rows = [r for r in seed_rows(d) if r["category"] != "praise"]  # remove a row …
    rows[0]["resolution_amount"] = "3"  # … change one …
    rows.append({"category": "noise", "area_kind": "community", "area_code": "C01", "unit_kind": "community",
                 "unit_code": "C01", "response_amount": "2", "response_unit": "hours", "resolution_amount": "3",
                 "resolution_unit": "working_days"})  # … and add one
    rows.append({k: "" for k in rows[0]})  # a blank row is skipped
    data = form_rows(rows, note="噪音由社区办理")
    data["r-99-category"], data["r-99-delete"] = "suggestion", "1"  # a row marked for removal is dropped
    with tenant_context(d):
        before = services.submit_case(actor=world.reporter, channel="snap", category="noise", title="夜里施工",
                                      household=world.places["h1"])
    done = admin.post(EDIT, data)
    assert done.status_code == 302 and done["Location"] == SETTINGS
    assert versions(d) == [1, 2]
    items = current_items(d)
    assert len(items) == 9 and not any(i[0] == "praise" for i in items)
    assert ("noise", "community", "C01", "community", "C01", 2, "hours", 3, "working_days") in items
    with tenant_context(d):
        v2 = ResponsibilityList.objects.get(version=2)
        assert v2.is_current and v2.note == "噪音由社区办理" and v2.published_by == world.admin
        assert AuditEntry.objects.filter(action="cases.rlist.publish", target_id=str(v2.pk)).exists()
        after = services.submit_case(actor=world.reporter, channel="snap", category="noise", title="夜里施工",
                                     household=world.places["h1"])
        assert (after.rlist, after.responsible_kind, after.responsible_code) == (v2, "community", "C01")
        before.refresh_from_db()
        assert before.rlist.version == 1  # a case keeps the version it was judged by
    history = admin.get(SETTINGS).content.decode()
    assert "噪音由社区办理" in history and 'data-testid="rlist-history"' in history
    assert admin.get("/cases/settings/list/v1/").status_code == 200
    # the same rows again: nothing to publish
    again = admin.post(EDIT, form_rows(seed_rows(d)))
    assert again.status_code == 400 and versions(d) == [1, 2]


def test_a_bad_row_in_the_form_is_named_and_nothing_is_published(world):
    d = world.district
    admin = client_for(d, world.admin)
    rows = seed_rows(d)
    rows[1]["area_kind"], rows[1]["area_code"] = "grid", "G9999"  # row 2: no such grid
    rows[2]["response_amount"] = "0"  # row 3: not positive
    rows[3]["resolution_unit"] = "days"  # row 4: unknown unit
    rows[4]["unit_kind"], rows[4]["unit_code"] = "department", "nobody"  # row 5: no such department
    rows.append(dict(rows[0]))  # row 10 repeats row 1
    response = admin.post(EDIT, form_rows(rows))
    assert response.status_code == 400
    page = response.content.decode()
    for row in (2, 3, 4, 5, 10):
        assert f"Row {row}:" in page, row
    assert "G9999" in page and "nobody" in page and "row 1" in page
    assert "Row 1:" not in page and "Row 6:" not in page
    assert 'class="row-bad" data-row="2"' in page  # the bad rows are marked in the table shown again
    assert versions(d) == [1]
    empty = admin.post(EDIT, form_rows([{k: "" for k in rows[0]}]))
    assert empty.status_code == 400 and versions(d) == [1]


def test_a_long_list_is_sent_as_one_json_field(world):
    """Xixia's list has 200+ rows: as separate form fields they pass Django's limit of 1000 fields, so
    the page's script sends the table as one JSON field."""
    import json

    d = world.district
    admin = client_for(d, world.admin)
    with tenant_context(d):
        for n in range(10):
            services.save_category(actor=world.admin, code=f"extra_{n}", name_zh=f"其他{n}")
        codes = list(Category.objects.values_list("code", flat=True))
    areas = [("district", ""), ("street", "S01"), ("street", "S02"), ("community", "C01"), ("community", "C02"),
             ("grid", "G0101"), ("grid", "G0102"), ("grid", "G0201")]
    rows = [{"category": c, "area_kind": kind, "area_code": code, "unit_kind": "grid_workers", "unit_code": "",
             "response_amount": "24", "response_unit": "hours", "resolution_amount": "5",
             "resolution_unit": "working_days"} for c in codes for kind, code in areas]
    assert len(rows) == 152
    as_fields = admin.post(EDIT, form_rows(rows))
    assert as_fields.status_code == 400 and versions(d) == [1]  # TooManyFieldsSent
    table = [{"index": i, "values": row, "deleted": False} for i, row in enumerate(rows)]
    table[6]["values"] = dict(rows[6], unit_kind="street", unit_code="S09")  # row 7
    bad = admin.post(EDIT, {"rows_json": json.dumps(table), "note": "西峡式长清单"})
    assert bad.status_code == 400 and "Row 7:" in bad.content.decode() and versions(d) == [1]
    table[6]["values"] = rows[6]
    table.append({"index": 200, "values": rows[0], "deleted": True})  # removed rows are dropped
    done = admin.post(EDIT, {"rows_json": json.dumps(table), "note": "西峡式长清单"})
    assert done.status_code == 302 and versions(d) == [1, 2] and len(current_items(d)) == 152
    assert admin.post(EDIT, {"rows_json": "{not json"}).status_code == 400


def test_a_new_version_from_a_spreadsheet(world):
    d = world.district
    admin = client_for(d, world.admin)
    template = admin.get(TEMPLATE)
    assert template.status_code == 200 and template["Content-Type"].startswith("application/vnd.openxmlformats")
    book = openpyxl.load_workbook(io.BytesIO(template.content))
    sheet = book.worksheets[0]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0][0] == "事项类别 (category)" and rows[0][-1] == "办结时限单位 (resolution unit)"
    assert len(rows) == 10 and rows[1][1] == "全区" and rows[1][3] == "网格员"
    codes = [r[1] for r in book.worksheets[1].iter_rows(values_only=True)]
    assert "G0101" in codes and "C02" in codes and "urban" in codes
    rows.append(["noise", "网格", "G0201", "部门", "urban", 4, "小时", 2, "工作日"])
    done = admin.post(UPLOAD, {"file": xlsx(rows), "note": "城管负责第三网格噪音"})
    assert done.status_code == 302, done.content.decode()[:2000]
    assert versions(d) == [1, 2]
    assert ("noise", "grid", "G0201", "department", "urban", 4, "hours", 2, "working_days") in current_items(d)

    bad = [r[:] for r in rows]
    bad[3][0] = "no_such_category"  # spreadsheet row 4
    bad[5][6] = "分钟"  # row 6: unknown unit
    response = admin.post(UPLOAD, {"file": xlsx(bad), "note": "坏的"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Row 4:" in page and "no_such_category" in page and "Row 6:" in page
    assert versions(d) == [1, 2]
    not_excel = admin.post(UPLOAD, {"file": SimpleUploadedFile("list.xlsx", b"category,area\n")})
    assert not_excel.status_code == 400 and "Excel" in not_excel.content.decode()
    no_header = admin.post(UPLOAD, {"file": xlsx([["a", "b"], ["noise", "全区"]])})
    assert no_header.status_code == 400 and "missing" in no_header.content.decode()
    assert versions(d) == [1, 2]


# --- categories ------------------------------------------------------------------------------------

def test_categories_are_added_and_edited(world):
    d = world.district
    admin = client_for(d, world.admin)
    added = admin.post(CATEGORIES, {"action": "add", "code": "dog_waste", "name_zh": "犬只粪便", "name_en": "Dog waste",
                                    "assign_mode": "grab", "active": "1"})
    assert added.status_code == 302
    again = admin.post(CATEGORIES, {"action": "add", "code": "dog_waste", "name_zh": "重复", "assign_mode": "grab"})
    assert again.status_code == 400 and "already" in again.content.decode()
    bad = admin.post(CATEGORIES, {"action": "add", "code": "Bad Code!", "name_zh": "", "assign_mode": "x"})
    assert bad.status_code == 400
    edited = admin.post(CATEGORIES, {"action": "edit", "code": "dog_waste", "name_zh": "犬只粪便污染",
                                     "name_en": "Dog waste", "assign_mode": "dispatch"})  # active unticked: off
    assert edited.status_code == 302
    with tenant_context(d):
        dog = Category.objects.get(code="dog_waste")
        assert (dog.name_zh, dog.assign_mode, dog.active) == ("犬只粪便污染", "dispatch", False)
        assert not Category.objects.filter(code="bad code!").exists()
        assert AuditEntry.objects.filter(action="cases.category.update", target_id=str(dog.pk)).exists()
    # a row of a switched-off category is refused by name
    rows = seed_rows(d) + [{"category": "dog_waste", "area_kind": "district", "area_code": "", "unit_kind": "grid_workers",
                            "unit_code": "", "response_amount": "24", "response_unit": "hours",
                            "resolution_amount": "5", "resolution_unit": "working_days"}]
    refused = admin.post(EDIT, form_rows(rows))
    assert refused.status_code == 400 and "Row 10:" in refused.content.decode() and "switched off" in refused.content.decode()


# --- holidays ----------------------------------------------------------------------------------------

def test_holidays_are_added_deleted_and_pasted(world):
    d = world.district
    admin = client_for(d, world.admin)
    saved = admin.post(HOLIDAYS, {"action": "save", "date": "2027-10-01", "kind": "off", "name": "国庆节"})
    assert saved.status_code == 302 and saved["Location"].endswith("?year=2027")
    weekday = admin.post(HOLIDAYS, {"action": "save", "date": "2027-10-08", "kind": "work", "name": "调休"})
    assert weekday.status_code == 400 and "weekday" in weekday.content.decode()
    assert admin.post(HOLIDAYS, {"action": "save", "date": "2027-10-09", "kind": "work", "name": "国庆调休"}
                      ).status_code == 302
    with tenant_context(d):
        calendar = selectors.work_calendar(dt.datetime(2027, 9, 1, tzinfo=dt.UTC))
        assert not calendar.is_working_day(dt.date(2027, 10, 1)) and calendar.is_working_day(dt.date(2027, 10, 9))
    page = admin.get(f"{HOLIDAYS}?year=2027").content.decode()
    assert 'data-date="2027-10-01"' in page and "国庆调休" in page
    removed = admin.post(HOLIDAYS, {"action": "delete", "date": "2027-10-09"})
    assert removed.status_code == 302
    assert admin.post(HOLIDAYS, {"action": "delete", "date": "2027-10-09"}).status_code == 404
    with tenant_context(d):
        assert not Holiday.objects.filter(date=dt.date(2027, 10, 9)).exists()
        assert AuditEntry.objects.filter(action="cases.holiday.delete").exists()

    lines = "# 2027 年部分节假日\n2027-01-01 休 元旦\n2027-02-06~2027-02-12 休 春节\n2027年2月14日 班 春节调休上班\n"
    pasted = admin.post(HOLIDAYS, {"action": "paste", "lines": lines})
    assert pasted.status_code == 302
    with tenant_context(d):
        spring = Holiday.objects.filter(date__range=(dt.date(2027, 2, 6), dt.date(2027, 2, 12)))
        assert spring.count() == 7 and set(spring.values_list("name", flat=True)) == {"春节"}
        assert Holiday.objects.get(date=dt.date(2027, 2, 14)).is_working_day
        assert AuditEntry.objects.filter(action="cases.holiday.import").count() == 1
        count = Holiday.objects.count()
    bad = admin.post(HOLIDAYS, {"action": "paste", "lines": "2027-05-01 休 劳动节\n2027-05-0x 休 坏\n"
                                                            "2027-05-10 班 周一上班\n2027-05-02 放风 坏"})
    assert bad.status_code == 400
    text = bad.content.decode()
    assert "Line 2:" in text and "Line 3:" in text and "Line 4:" in text and "Line 1:" not in text
    assert "2027-05-02 放风 坏" in text  # the pasted text comes back to fix
    with tenant_context(d):
        assert Holiday.objects.count() == count and not Holiday.objects.filter(date=dt.date(2027, 5, 1)).exists()

    sheet = xlsx([["日期 (date)", "类型", "名称"], [dt.date(2027, 5, 1), "休", "劳动节"], ["2027-05-08", "班", "劳动节调休"]])
    uploaded = admin.post(HOLIDAYS, {"action": "upload", "file": sheet})
    assert uploaded.status_code == 302
    with tenant_context(d):
        assert Holiday.objects.get(date=dt.date(2027, 5, 8)).is_working_day
    download = admin.get("/cases/settings/holidays/2027.xlsx")
    days = [r[0] for r in openpyxl.load_workbook(io.BytesIO(download.content)).active.iter_rows(values_only=True)]
    assert "2027-05-01" in days and "2027-02-14" in days


# --- integrations -----------------------------------------------------------------------------------

def test_integrations_page_shows_a_key_once_and_rotates_it(world):
    d = world.district
    admin = client_for(d, world.admin)
    made = admin.post(INTEGRATIONS, {"action": "create", "name": "12345 热线", "kind": "hotline",
                                     "webhook_url": "https://hotline.example.cn/hook"})
    assert made.status_code == 200 and made["Cache-Control"] == "private, no-store"
    page = made.content.decode()
    assert 'data-testid="new-key"' in page
    key = page.split('<code id="shown-key">')[1].split("</code>")[0]
    assert key.startswith("msk_")
    with tenant_context(d):
        integration = Integration.objects.get(name="12345 热线")
        assert integration.key_hash == hashlib.sha256(key.encode()).hexdigest()
        assert integrations.authenticate(key) == integration
    listed = admin.get(INTEGRATIONS).content.decode()
    assert key not in listed and f"msk_{integration.key_prefix}_" in listed  # shown once, only its prefix after

    rotated = admin.post(INTEGRATIONS, {"action": "rotate", "integration": integration.pk}).content.decode()
    new_key = rotated.split('<code id="shown-key">')[1].split("</code>")[0]
    assert new_key != key
    with tenant_context(d):
        assert integrations.authenticate(key) is None and integrations.authenticate(new_key) == integration
    assert new_key not in admin.get(INTEGRATIONS).content.decode()

    updated = admin.post(INTEGRATIONS, {"action": "update", "integration": integration.pk,
                                        "webhook_url": "https://hotline.example.cn/v2"})  # active unticked
    assert updated.status_code == 302
    with tenant_context(d):
        integration.refresh_from_db()
        assert integration.webhook_url == "https://hotline.example.cn/v2" and not integration.active
        assert integrations.authenticate(new_key) is None  # inactive
        secret = integrations.webhook_secret(integration)
    bad_url = admin.post(INTEGRATIONS, {"action": "update", "integration": integration.pk, "webhook_url": "ftp://x"})
    assert bad_url.status_code == 400
    revealed = admin.post(INTEGRATIONS, {"action": "reveal", "integration": integration.pk})
    assert revealed.status_code == 200 and secret in revealed.content.decode()
    assert secret not in admin.get(INTEGRATIONS).content.decode()
    with tenant_context(d):
        assert AuditEntry.objects.filter(action="cases.integration.reveal_secret",
                                         target_id=str(integration.pk), actor=world.admin).count() == 1
        assert AuditEntry.objects.filter(action="cases.integration.rotate_key").count() == 1
    assert admin.post(INTEGRATIONS, {"action": "create", "name": "", "kind": "fax"}).status_code == 400
    assert admin.post(INTEGRATIONS, {"action": "rotate", "integration": "999999"}).status_code == 404


# --- figures ------------------------------------------------------------------------------------------

def _scenario(world):
    """G0101 (community C01): one case answered in 1 hour and resolved in 2 days, one left open past its
    limit; G0201 (community C02): one open case in time."""
    now = timezone.now()
    start = now - dt.timedelta(days=10)
    with tenant_context(world.district):
        done = services.submit_case(actor=world.reporter, channel="snap", category="corridor_clutter",
                                    title="楼道堆物", household=world.places["h1"], now=start)
        services.accept_case(actor=world.gw1, case=done, now=start + dt.timedelta(hours=1))
        services.resolve_case(actor=world.gw1, case=done, result="已清理", now=start + dt.timedelta(days=2))
        late = services.submit_case(actor=world.reporter, channel="snap", category="noise", title="噪音",
                                    household=world.places["h1"], now=start)
        fresh = services.submit_case(actor=world.other_resident, channel="snap", category="noise", title="噪音",
                                     household=world.places["h3"], now=now - dt.timedelta(hours=2))
        old = services.submit_case(actor=world.reporter, channel="snap", category="noise", title="很久以前",
                                   household=world.places["h1"], now=now - dt.timedelta(days=60))
        services.accept_case(actor=world.gw1, case=old, now=now - dt.timedelta(days=59))
        services.resolve_case(actor=world.gw1, case=old, result="终于办了", now=now - dt.timedelta(days=1))
        assert late.resolution_due < now < fresh.resolution_due
    return done, late, fresh, old


def _row(page: str, testid: str, key: str) -> dict:
    table = page.split(f'data-testid="{testid}"')[1].split("</table>")[0]
    if f'data-key="{key}"' not in table:
        return {}
    row = table.split(f'data-key="{key}"')[1].split("</tr>")[0]
    out = {}
    for cell in row.split('data-col="')[1:]:
        name, rest = cell.split('"', 1)
        value = rest.split(">", 1)[1].split("</td>")[0]
        out[name] = value.replace("<strong style=\"color:#b71c1c\">", "").replace("</strong>", "")
    return out


def test_figures_match_a_small_scenario_and_community_staff_see_their_community(world):
    d = world.district
    _scenario(world)
    admin = client_for(d, world.admin)
    page = admin.get(FIGURES)  # default: the last 30 days
    assert page.status_code == 200
    html = page.content.decode()
    g1 = _row(html, "figures-grid", "G0101")
    assert g1 == {"total": "2", "reply_rate": "50%", "resolution_rate": "50%", "respond": "1 h", "resolve": "2 d",
                  "overdue": "1", "late": "0", "workload": "1"}
    assert _row(html, "figures-grid", "G0201")["overdue"] == "0"
    assert _row(html, "figures-worker", "gw1")["total"] == "2"
    overall = html.split('data-testid="figures-overall"')[1].split("</p>")[0]
    assert "3 cases" in overall and "1 overdue" in overall and "2 open" in overall
    wider = admin.get(FIGURES, {"from": (timezone.localdate() - dt.timedelta(days=90)).isoformat(),
                                "to": timezone.localdate().isoformat()}).content.decode()
    g1_wider = _row(wider, "figures-grid", "G0101")  # the 60-day-old case, resolved late, is in range now
    assert (g1_wider["total"], g1_wider["late"], g1_wider["overdue"]) == ("3", "1", "1")

    staff = client_for(d, world.staff_c1).get(FIGURES).content.decode()
    assert _row(staff, "figures-grid", "G0101")["total"] == "2"
    assert _row(staff, "figures-grid", "G0201") == {}  # the other community's grid is not theirs
    other = client_for(d, world.staff_c2).get(FIGURES).content.decode()
    assert _row(other, "figures-grid", "G0201")["total"] == "1" and _row(other, "figures-grid", "G0101") == {}
    assert client_for(d, world.gw1).get(FIGURES).status_code == 403
    assert client_for(d, world.reporter).get(FIGURES).status_code == 403
    assert admin.get(FIGURES, {"from": "2026-13-01"}).status_code == 400
    assert admin.get(FIGURES, {"from": "2026-11-20", "to": "2026-11-01"}).status_code == 400


def test_figures_export_as_xlsx_and_csv(world):
    d = world.district
    _scenario(world)
    admin = client_for(d, world.admin)
    response = admin.get(EXPORT, {"format": "xlsx"})
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["说明 (about)", "网格 (grid)", "人员 (worker)", "部门 (department)"]
    grid = [list(r) for r in book["网格 (grid)"].iter_rows(values_only=True)]
    header = grid[0]
    g1 = dict(zip(header, next(r for r in grid if r[0] == "G0101"), strict=True))
    assert g1["工单数 (cases)"] == 2 and g1["响应率 (reply rate)"] == 0.5 and g1["超期未办结 (overdue, open)"] == 1
    assert g1["响应用时中位数（小时） (median hours to respond)"] == 1.0
    assert g1["办结用时中位数（小时） (median hours to resolve)"] == 48.0
    assert g1["在办 (open workload)"] == 1
    staff = client_for(d, world.staff_c2).get(EXPORT, {"format": "xlsx"})
    codes = [r[0] for r in openpyxl.load_workbook(io.BytesIO(staff.content))["网格 (grid)"].iter_rows(values_only=True)]
    assert "G0201" in codes and "G0101" not in codes
    text = admin.get(EXPORT, {"format": "csv"}).content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][0] == "表 (table)" and any(r[1] == "G0101" and r[3] == "2" for r in rows)
    assert client_for(d, world.gw1).get(EXPORT).status_code == 403
    assert admin.get(EXPORT, {"from": "nope"}).status_code == 400
