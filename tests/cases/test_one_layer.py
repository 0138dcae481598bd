"""Business rules in one layer: the settings writes of the cases module (categories, the responsibility
list, holidays) check the administrator in the service itself, so no caller can go around the check;
the case with its files is one service, so a retried submission makes one case through the page and
through the API alike."""
import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django_tenants.utils import tenant_context

from kernel.errors import NotAllowed
from modules.cases import services
from modules.cases.models import Attachment, Case, Category, Holiday, ResponsibilityList
from modules.cases.services import holiday_rows
from tests.cases.test_pages import jpeg, media  # noqa: F401 - media: the autouse fixture (files in tmp_path)
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


ROW = {"category": "noise", "area_kind": "district", "unit_kind": "grid_workers", "response_amount": 24,
       "response_unit": "hours", "resolution_amount": 5, "resolution_unit": "working_days"}


def test_only_a_district_administrator_changes_the_settings_whoever_calls_the_service(world):
    """Before, these checks lived in a wrapper (cases/rules.py): a caller of services went around them."""
    writes = {
        "save_category": lambda who: services.save_category(actor=who, code="zz_new", name_zh="新类别"),
        "publish_responsibility_list": lambda who: services.publish_responsibility_list(actor=who, items=[ROW]),
        "publish_list": lambda who: services.publish_list(actor=who, rows=[(2, dict(ROW))]),
        "set_holiday": lambda who: services.set_holiday(actor=who, date=dt.date(2026, 11, 2), name="加一天"),
        "delete_holiday": lambda who: services.delete_holiday(actor=who, date=dt.date(2026, 10, 1)),
        "import_holidays": lambda who: services.import_holidays(
            actor=who, entries=holiday_rows.parse_holiday_lines("2026-11-03 休 测试")),
    }
    with tenant_context(world.district):
        before = (Category.objects.count(), ResponsibilityList.objects.count(), Holiday.objects.count())
        for who in (world.reporter, world.staff_c1, world.gw1, None):
            for name, write in writes.items():
                with pytest.raises(NotAllowed):
                    write(who)
                    pytest.fail(f"{name} let {who} write")
        assert (Category.objects.count(), ResponsibilityList.objects.count(), Holiday.objects.count()) == before
        category = services.save_category(actor=world.admin, code="zz_new", name_zh="新类别")
        assert category.name_zh == "新类别"
        assert services.set_holiday(actor=world.admin, date=dt.date(2026, 11, 2), name="加一天").name == "加一天"
    connection.set_schema_to_public()


def test_a_category_names_every_bad_field_at_once(world):
    from kernel.errors import DomainError

    with tenant_context(world.district), pytest.raises(DomainError) as bad:
        services.save_category(actor=world.admin, code="Bad Code", name_zh="0", assign_mode="lottery", new=True)
    connection.set_schema_to_public()
    assert set(bad.value.fields) == {"code", "name_zh", "assign_mode"}


def cases_and_files(world) -> tuple[int, int]:
    with tenant_context(world.district):
        counts = Case.objects.count(), Attachment.objects.count()
    connection.set_schema_to_public()
    return counts


def test_a_retried_report_with_photos_makes_one_case_through_the_page(world):
    client = client_for(world.district, world.reporter)
    body = {"category": "parking", "title": "车堵了消防通道", "place": f"h:{world.places['h1'].pk}",
            "idempotency_key": "form-token-1"}
    first = client.post("/cases/report/", {**body, "files": [jpeg("red"), jpeg("blue")]}, format="multipart")
    again = client.post("/cases/report/", {**body, "files": [jpeg("red"), jpeg("blue")]}, format="multipart")
    assert (first.status_code, again.status_code) == (302, 302), again.content
    assert first["Location"] == again["Location"]
    assert cases_and_files(world) == (1, 2)  # one case, its first two photos


def test_a_retried_report_with_photos_makes_one_case_through_the_api(world):
    client = client_for(world.district, world.reporter)
    body = {"category": "corridor_clutter", "title": "楼道堆物", "grid": "G0101"}
    first = client.post("/api/v1/cases/", {**body, "files": [jpeg("red")]}, format="multipart",
                        HTTP_IDEMPOTENCY_KEY="app-retry-7")
    again = client.post("/api/v1/cases/", {**body, "files": [jpeg("red")]}, format="multipart",
                        HTTP_IDEMPOTENCY_KEY="app-retry-7")
    assert (first.status_code, again.status_code) == (201, 200), again.content
    assert first.json()["id"] == again.json()["id"]
    assert cases_and_files(world) == (1, 1)


def test_a_bad_photo_saves_no_case_through_either_door(world):
    client = client_for(world.district, world.reporter)
    bad = SimpleUploadedFile("x.jpg", b"<?php echo 1; ?>", content_type="image/jpeg")
    page = client.post("/cases/report/", {"category": "parking", "title": "车", "place": f"h:{world.places['h1'].pk}",
                                          "idempotency_key": "t-2", "files": [bad]}, format="multipart")
    bad.seek(0)
    api = client.post("/api/v1/cases/", {"category": "parking", "title": "车", "grid": "G0101", "files": [bad]},
                      format="multipart")
    assert (page.status_code, api.status_code) == (400, 400)
    assert cases_and_files(world) == (0, 0)

