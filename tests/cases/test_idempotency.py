"""One idempotency rule (kernel.idempotency) on case intake: the API, the hotline / mailbox intake and
the report page keep a key whole (two keys alike in their first 64 characters are two cases, never
one lost case), refuse keys over 255 characters with 400 in the one error shape (nothing saved),
answer a repeat with 200 and the first case, and another body under a used key with 409."""
import re

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from modules.cases.models import Case
from tests.cases.test_integrations import INTAKE, caller, make
from tests.conftest import client_for

pytestmark = pytest.mark.django_db
BASE = "/api/v1/cases/"
REPORT = {"category": "corridor_clutter", "title": "楼道堆物", "description": "三楼", "grid": "G0101"}
STEM = "hotline-2026-12-07-" + "x" * 60  # longer than 64: only the end tells the keys apart


def case_count(world) -> int:
    with tenant_context(world.district):
        count = Case.objects.count()
    connection.set_schema_to_public()
    return count


def error(response, status: int) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and body["error"]["status"] == status and body["error"]["message"]
    return body["error"]


def test_hotline_keys_alike_in_their_first_64_characters_are_two_cases(world):
    _mailbox, key = make(world, kind="mailbox", name="市民信箱")
    client = caller(world.district, key)
    one = client.post(INTAKE, {**REPORT, "title": "第一封"}, format="json", HTTP_IDEMPOTENCY_KEY=STEM + "-1")
    two = client.post(INTAKE, {**REPORT, "title": "第二封"}, format="json", HTTP_IDEMPOTENCY_KEY=STEM + "-2")
    assert (one.status_code, two.status_code) == (201, 201), (one.content, two.content)
    assert one.json()["id"] != two.json()["id"] and two.json()["title"] == "第二封"
    again = client.post(INTAKE, {**REPORT, "title": "第二封"}, format="json", HTTP_IDEMPOTENCY_KEY=STEM + "-2")
    assert again.status_code == 200 and again.json()["id"] == two.json()["id"]
    assert case_count(world) == 2
    refused = error(client.post(INTAKE, REPORT, format="json", HTTP_IDEMPOTENCY_KEY="k" * 256), 400)
    assert refused["code"] == "invalid_idempotency_key" and "255" in refused["message"]
    assert case_count(world) == 2


def test_api_keys_up_to_255_characters_are_kept_whole_longer_ones_answer_400(world):
    resident = client_for(world.district, world.reporter)
    one = resident.post(BASE, {**REPORT, "title": "一"}, format="json", HTTP_IDEMPOTENCY_KEY=STEM + "a" * 170)
    two = resident.post(BASE, {**REPORT, "title": "二"}, format="json", HTTP_IDEMPOTENCY_KEY=STEM + "b" * 170)
    assert (one.status_code, two.status_code) == (201, 201), (one.content, two.content)
    assert one.json()["id"] != two.json()["id"]
    for how in ({"HTTP_IDEMPOTENCY_KEY": "k" * 256}, {"HTTP_IDEMPOTENCY_KEY": "tab\tinside"}):
        refused = error(resident.post(BASE, REPORT, format="json", **how), 400)
        assert refused["code"] == "invalid_idempotency_key" and "255" in refused["message"]
        assert "idempotency_key" in refused["fields"]
    in_body = error(resident.post(BASE, {**REPORT, "idempotency_key": "k" * 300}, format="json"), 400)
    assert "idempotency_key" in in_body["fields"]
    assert case_count(world) == 2


def test_the_same_key_and_body_is_200_with_the_first_case_another_body_is_409(world):
    resident = client_for(world.district, world.reporter)
    first = resident.post(BASE, REPORT, format="json", HTTP_IDEMPOTENCY_KEY="app-retry-1")
    again = resident.post(BASE, REPORT, format="json", HTTP_IDEMPOTENCY_KEY="app-retry-1")
    in_body = resident.post(BASE, {**REPORT, "idempotency_key": "app-retry-1"}, format="json")
    assert (first.status_code, again.status_code, in_body.status_code) == (201, 200, 200), again.content
    assert first.json()["id"] == again.json()["id"] == in_body.json()["id"]
    other = error(resident.post(BASE, {**REPORT, "title": "另一件事"}, format="json",
                                HTTP_IDEMPOTENCY_KEY="app-retry-1"), 409)
    assert other["code"] == "idempotency_key_reused" and "idempotency_key" in other["fields"]
    assert case_count(world) == 1


def test_the_report_page_keeps_its_form_key_whole(world):
    client = client_for(world.district, world.reporter)
    form = client.get("/cases/report/").content.decode()
    assert re.search(r'name="idempotency_key" value="([^"]+)"', form)
    body = {"category": "parking", "title": "车堵了消防通道", "place": f"h:{world.places['h1'].pk}"}
    one = client.post("/cases/report/", {**body, "idempotency_key": STEM + "-1"}, format="multipart")
    two = client.post("/cases/report/", {**body, "idempotency_key": STEM + "-2"}, format="multipart")
    assert (one.status_code, two.status_code) == (302, 302)
    assert one["Location"] != two["Location"] and case_count(world) == 2
    twice = client.post("/cases/report/", {**body, "idempotency_key": STEM + "-2"}, format="multipart")
    assert twice.status_code == 302 and twice["Location"] == two["Location"]
    refused = client.post("/cases/report/", {**body, "idempotency_key": "k" * 256}, format="multipart")
    assert refused.status_code == 400 and case_count(world) == 2
    fresh = re.search(r'name="idempotency_key" value="([^"]+)"', refused.content.decode()).group(1)
    assert fresh != "k" * 256  # the form comes back with a new key: sending it again makes the case
    edited = client.post("/cases/report/", {**body, "title": "改了标题", "idempotency_key": STEM + "-2"},
                         format="multipart")
    assert edited.status_code == 409 and case_count(world) == 2  # the same key with another report
    assert STEM + "-2" not in edited.content.decode()
