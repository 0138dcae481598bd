"""What a district's people see across its life: being set up (residents) vs working (staff), past due
(a banner for its administrators), suspended (a notice; hotline intake still accepted; administrators
read and reach billing), archived (read-only for its staff; every write refused in one error shape)."""
from __future__ import annotations

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from modules.cases.models import Case
from tenants.models import District
from tenants.services import set_status
from tests.golive.conftest import people

pytestmark = pytest.mark.django_db

INTAKE = "/api/v1/cases/intake/"


def move(district, *statuses):
    for status in statuses:
        district = set_status(actor=None, district=District.objects.get(pk=district.pk), status=status,
                              reason="test")
    connection.set_schema_to_public()
    return district


def html(response) -> str:
    return response.content.decode()


def test_residents_see_being_set_up_while_staff_work_normally(not_live):
    admin, worker, resident, visitor = people(not_live)
    for client in (visitor, resident):
        page = client.get("/")
        assert page.status_code == 200 and 'data-testid="setting-up"' in html(page) and "正在开通建设中" in html(page)
        assert not_live.primary_color in html(page) and 'data-testid="setting-up-brand"' in html(page)
        assert 'data-testid="setting-up"' in html(client.get("/me/"))
    assert 'data-testid="setting-up"' in html(visitor.get("/no-such-page/"))  # no way around it
    assert 'data-testid="setting-up"' not in html(visitor.get("/login/"))  # staff sign in from here
    assert visitor.get("/api/v1/district/").status_code == 200  # the API answers (it checks who asks)
    for staff in (admin, worker):
        home = staff.get("/")
        assert home.status_code == 200 and 'data-testid="setting-up"' not in html(home)
    manage = admin.get("/manage/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert manage.status_code == 200 and 'data-testid="setup-card"' in html(manage)
    assert 'data-check="ledger_imported" data-done="0"' in html(manage) and 'href="/registry/ledger/"' in html(manage)
    assert 'data-status="setting_up"' in html(manage)  # the staff banner


def test_a_live_district_has_no_card_and_no_banner(dongsheng):
    admin, _worker, _resident, visitor = people(dongsheng)
    assert visitor.get("/").status_code == 200
    manage = admin.get("/manage/")
    assert 'data-testid="setup-card"' not in html(manage) and 'data-testid="status-banner"' not in html(manage)


def test_past_due_works_for_everyone_and_shows_its_administrators_a_banner(dongsheng):
    move(dongsheng, "past_due")
    admin, worker, resident, visitor = people(dongsheng)
    assert visitor.get("/").status_code == 200 and resident.get("/").status_code == 200
    manage = admin.get("/manage/")
    assert manage.status_code == 200 and 'data-status="past_due"' in html(manage)
    assert 'href="/manage/billing/"' in html(manage)
    staff_page = admin.get("/registry/ledger/")
    assert staff_page.status_code == 200 and 'data-status="past_due"' in html(staff_page)
    worker_page = worker.get("/cases/pool/")
    assert worker_page.status_code == 200 and 'data-status="past_due"' not in html(worker_page)  # the banner is for administrators


def test_suspended_keeps_data_and_hotline_intake_and_lets_administrators_read(dongsheng):
    from modules.cases.intake import integrations
    from tests.conftest import admin_of

    with tenant_context(dongsheng):
        _mailbox, key = integrations.create_integration(actor=admin_of(dongsheng), name="市民信箱", kind="mailbox")
    move(dongsheng, "suspended")
    admin, worker, resident, visitor = people(dongsheng)

    for client in (visitor, resident):
        page = client.get("/")
        assert page.status_code == 403 and "此区县的服务已暂停" in html(page) and "数据完好保存" in html(page)
        assert 'data-testid="error-brand"' in html(page)
    api = visitor.get("/api/v1/district/")
    assert api.status_code == 403 and api.json()["error"]["code"] == "district_suspended"
    assert worker.get("/cases/pool/").status_code == 403  # staff other than the administrators wait

    hotline = visitor.__class__(HTTP_HOST=visitor.defaults["HTTP_HOST"])
    hotline.credentials(HTTP_AUTHORIZATION=f"Integration {key}")
    made = hotline.post(INTAKE, {"category": "noise", "title": "夜间施工噪音"}, format="json")
    assert made.status_code == 201, made.content  # no citizen is lost
    looked_up = hotline.get(f"{INTAKE}{made.json()['ref']}/")
    assert looked_up.status_code == 200 and looked_up.json()["id"] == made.json()["id"]
    with tenant_context(dongsheng):
        assert Case.objects.filter(pk=made.json()["id"]).exists()

    manage = admin.get("/manage/")
    assert manage.status_code == 200 and 'data-status="suspended"' in html(manage)  # read-only pages
    assert admin.get("/manage/billing/").status_code != 403  # billing stays open to pay
    write = admin.post("/manage/", {"key": "points", "on": "1"})
    assert write.status_code == 403 and "此区县的服务已暂停" in html(write)
    with tenant_context(dongsheng):
        assert "points" not in District.objects.get(pk=dongsheng.pk).modules
    signed_out = admin.post("/logout/")
    assert signed_out.status_code == 302
    again = visitor.post("/login/", {"action": "password", "username": "admin", "password": "test-pass-123"})
    assert again.status_code == 302  # administrators can still sign in


def test_archived_is_read_only_for_staff_and_closed_to_residents(dongsheng):
    move(dongsheng, "archived")
    admin, worker, resident, visitor = people(dongsheng)
    page = resident.get("/")
    assert page.status_code == 410 and "此区县的服务已停止" in html(page)
    assert admin.get("/manage/").status_code == 200 and worker.get("/cases/pool/").status_code == 200
    assert admin.get("/api/v1/me/").status_code == 200
    refused = admin.post("/api/v1/settings/modules/points/enable/", {}, format="json")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "district_archived_read_only"
    assert set(refused.json()) == {"error"} and refused.json()["error"]["status"] == 403
    page_write = admin.post("/manage/", {"key": "points", "on": "1"})
    assert page_write.status_code == 403 and 'data-code="district_archived_read_only"' in html(page_write)
    assert "此区县已归档，只读" in html(page_write)
    assert admin.post("/logout/").status_code == 302
    signed_in = visitor.post("/login/", {"action": "password", "username": "admin", "password": "test-pass-123"})
    assert signed_in.status_code == 302


def test_the_gate_costs_a_live_district_no_query(dongsheng):
    """A live, active district is let through on the cached District alone: a signed-in administrator's
    API read asks the database what it did before (no session, user or role lookup of the gate's)."""
    from django.db import connection as conn
    from django.test.utils import CaptureQueriesContext

    from tenants.middleware import DistrictMiddleware

    admin = people(dongsheng)[0]
    admin.get("/api/v1/district/")  # warm the host cache
    with CaptureQueriesContext(conn) as queries:
        assert admin.get("/api/v1/district/").status_code == 200
    assert not any("kernel_roleassignment" in q["sql"] for q in queries.captured_queries)
    assert not DistrictMiddleware.gated(DistrictMiddleware(lambda r: None).lookup("dongsheng.localhost"))
    move(dongsheng, "suspended")
    assert DistrictMiddleware.gated(DistrictMiddleware(lambda r: None).lookup("dongsheng.localhost"))
