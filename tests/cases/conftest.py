"""Fixtures of the cases tests: the registry's places, people in every role, and a frozen clock."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from modules.cases.calendar import TZ
from tests.conftest import admin_of, make_user
from tests.registry.test_places import build_places

# A Wednesday before the (example) 2026 National Day week: Oct 1–7 off, Sun Sept 27 and Sat Oct 10 worked.
T0 = dt.datetime(2026, 9, 30, 10, 0, tzinfo=TZ)


def at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=TZ)


@dataclass
class World:
    district: object
    places: dict
    reporter: object
    other_resident: object
    gw1: object  # owns grid G0101 (community C01)
    gw1b: object  # part-time worker of G0101
    gw2: object  # grid G0201 (community C02)
    staff_c1: object
    staff_c2: object
    dept: object  # official of department "urban"
    mediator: object
    sector: object
    admin: object


@pytest.fixture
def world(kangbashi) -> World:
    from modules.registry import services as registry

    places = build_places(kangbashi)
    reporter = make_user(kangbashi, "reporter", "resident")
    other = make_user(kangbashi, "other", "resident")
    gw1 = make_user(kangbashi, "gw1", "grid_worker", "grid", "G0101")
    gw1b = make_user(kangbashi, "gw1b", "grid_worker_part_time", "grid", "G0101")
    gw2 = make_user(kangbashi, "gw2", "grid_worker", "grid", "G0201")
    staff_c1 = make_user(kangbashi, "staff_c1", "community_staff", "community", "C01")
    staff_c2 = make_user(kangbashi, "staff_c2", "community_staff", "community", "C02")
    dept = make_user(kangbashi, "dept", "official", "department", "urban")
    mediator = make_user(kangbashi, "mediator", "mediator", "community", "C01")
    sector = make_user(kangbashi, "sector", "grid_worker_sector", "department", "urban")
    with tenant_context(kangbashi):
        registry.create_department(actor=None, code="urban", name="城管局", is_sector=True)
        g1 = places["g1"]
        g1.worker = gw1
        g1.save(update_fields=["worker"])
        resident = registry.register_resident(actor=None, name="张三", household=places["h1"], relation="head")
        registry.link_account(actor=None, resident=resident, user=reporter)
    connection.set_schema_to_public()
    return World(kangbashi, places, reporter, other, gw1, gw1b, gw2, staff_c1, staff_c2, dept, mediator, sector,
                 admin_of(kangbashi))


@pytest.fixture
def in_district(world):
    with tenant_context(world.district):
        yield world


@pytest.fixture(autouse=True)
def _english_messages():
    """Service-level tests read the English messages (requests choose their language themselves)."""
    from django.utils import translation

    with translation.override("en"):
        yield
