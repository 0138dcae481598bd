"""The phone an anonymous reporter leaves "so the handler can call back": the case's handler sees it
whole (a tap-to-call link), and that view is recorded as access to personal data; everyone else who
sees the case sees it masked, and nothing is recorded for them."""
from __future__ import annotations

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from kernel.models import AuditEntry
from modules.cases import services
from tests.conftest import client_for

pytestmark = pytest.mark.django_db
PHONE = "13912345678"


def _anonymous_case(world):
    with tenant_context(world.district):
        case = services.submit_case(actor=None, channel="snap", category="corridor_clutter", title="楼道里堆满了纸箱",
                                    household=world.places["h1"], contact=PHONE)
        assert case.assignee_id == world.gw1.pk  # dispatched to the grid's worker: the handler
        assert not services.is_handler(world.gw1b, case) and not services.is_handler(world.staff_c2, case)
    connection.set_schema_to_public()
    return case


def _viewed(world, case, user) -> list:
    with tenant_context(world.district):
        rows = list(AuditEntry.objects.filter(action="personal.viewed", target_type="cases.case",
                                              target_id=str(case.pk), actor=user).values_list("after", flat=True))
    connection.set_schema_to_public()
    return rows


def test_the_handler_sees_the_whole_number_and_the_view_is_recorded(world):
    case = _anonymous_case(world)
    html = client_for(world.district, world.gw1).get(f"/cases/{case.pk}/").content.decode()
    assert f'href="tel:{PHONE}"' in html and 'data-whole="1"' in html
    assert _viewed(world, case, world.gw1) == [{"field": "reporter_contact", "purpose": "call back the reporter"}]


def test_other_staff_who_see_the_case_get_it_masked_and_nothing_is_recorded(world):
    case = _anonymous_case(world)
    response = client_for(world.district, world.gw1b).get(f"/cases/{case.pk}/")  # part-time worker of the grid
    assert response.status_code == 200
    html = response.content.decode()
    assert PHONE not in html and "139****5678" in html and 'data-whole="0"' in html
    assert _viewed(world, case, world.gw1b) == []


def test_the_rule_is_the_services_one(world):
    case = _anonymous_case(world)
    with tenant_context(world.district):
        assert services.reporter_contact(actor=world.gw1, case=case) == (PHONE, True)
        assert services.reporter_contact(actor=world.gw1b, case=case) == ("139****5678", False)
        assert services.reporter_contact(actor=None, case=case) == ("139****5678", False)
        assert services.reporter_contact(actor=world.admin, case=case) == (PHONE, True)  # supervises: a handler
    connection.set_schema_to_public()


def test_the_api_detail_follows_the_same_rule_and_lists_stay_masked(world):
    case = _anonymous_case(world)
    handler, other = client_for(world.district, world.gw1), client_for(world.district, world.gw1b)
    listed = handler.get("/api/v1/cases/").json()["results"]
    assert [c["reporter_contact"] for c in listed if c["id"] == case.pk] == ["139****5678"]
    assert _viewed(world, case, world.gw1) == []  # a list shows no one the whole number
    seen = other.get(f"/api/v1/cases/{case.pk}/")
    assert seen.status_code == 200 and seen.json()["reporter_contact"] == "139****5678"
    assert _viewed(world, case, world.gw1b) == []
    detail = handler.get(f"/api/v1/cases/{case.pk}/")
    assert detail.status_code == 200 and detail.json()["reporter_contact"] == PHONE
    assert _viewed(world, case, world.gw1) == [{"field": "reporter_contact", "purpose": "call back the reporter"}]


def test_the_api_schema_says_when_the_number_is_whole(world):
    doc = client_for(world.district).get("/api/schema/?format=json").json()
    schemas = doc["components"]["schemas"]
    detail = schemas["CaseDetail"]["properties"]["reporter_contact"]
    listed = schemas["Case"]["properties"]["reporter_contact"]
    assert detail["type"] == "string" and "whole" in detail["description"] and "handler" in detail["description"]
    assert "recorded" in detail["description"] and "masked" in listed["description"]
