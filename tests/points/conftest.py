"""Fixtures of the points tests: places, residents (some linked to accounts), staff and a points
committee in Kangbashi, test rules, and the ledger check run after every test: each balance equals
the sum of its entries."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from kernel.sms import SmsSender
from tests.conftest import admin_of, make_user
from tests.registry.test_places import build_places, valid_id


def today() -> dt.date:
    return timezone.localdate()


def id_number(n: int) -> str:
    return valid_id(f"15060219800101{n:03d}")


@dataclass
class PointsWorld:
    district: object
    places: dict
    admin: object
    staff: object  # community staff of C01
    gw1: object  # grid worker of G0101
    gw3: object  # grid worker of G0201 (community C02)
    m1: object  # committee members, district-wide
    m2: object
    m3: object
    m_c2: object  # committee member of community C02 only
    res_user: object  # the account of resident r1
    r1: object  # h1 (G0101), head, linked to res_user, has a phone
    r2: object  # h1 member
    r3: object  # h2 (G0102)
    r4: object  # h3 (G0201, community C02)
    rules: dict


def rule_fields(**kw) -> dict:
    base = {"name_zh": "测试规则", "direction": "add", "category": "test", "min_points": 1, "max_points": 10,
            "default_points": 2}
    base.update(kw)
    return base


def make_rules(admin) -> dict:
    from modules.points.ledger import rules as rulebook

    specs = {
        "t_good": rule_fields(name_zh="好人好事", min_points=2, max_points=100, default_points=5),
        "t_evidence": rule_fields(name_zh="需证据", evidence_required=True),
        "t_committee": rule_fields(name_zh="见义勇为", min_points=20, max_points=50, default_points=30,
                                   committee_required=True, evidence_required=True),
        "t_drunk": rule_fields(name_zh="酒驾", direction="deduct", min_points=50, max_points=50, default_points=50,
                               committee_required=True, evidence_required=True),
        "t_litter": rule_fields(name_zh="乱扔垃圾", direction="deduct", min_points=1, max_points=3, default_points=1),
        "t_daily": rule_fields(name_zh="每日一次", cap_period="day", cap_count=1),
        "t_monthly": rule_fields(name_zh="每月最多三次", cap_period="month", cap_count=3),
        "t_yearly_pts": rule_fields(name_zh="每年最多十分", cap_period="year", cap_points=10),
        "t_material": rule_fields(name_zh="物质积分", kind="material"),
    }
    return {code: rulebook.create_rule(actor=admin, code=code, **fields) for code, fields in specs.items()}


@pytest.fixture
def pw(kangbashi) -> PointsWorld:
    from modules.registry import services as registry

    places = build_places(kangbashi)
    admin = admin_of(kangbashi)
    staff = make_user(kangbashi, "p_staff", "community_staff", "community", "C01")
    gw1 = make_user(kangbashi, "p_gw1", "grid_worker", "grid", "G0101")
    gw3 = make_user(kangbashi, "p_gw3", "grid_worker", "grid", "G0201")
    m1 = make_user(kangbashi, "p_m1", "committee_member")
    m2 = make_user(kangbashi, "p_m2", "committee_member")
    m3 = make_user(kangbashi, "p_m3", "committee_member")
    m_c2 = make_user(kangbashi, "p_mc2", "committee_member", "community", "C02")
    res_user = make_user(kangbashi, "p_res1", "resident")
    with tenant_context(kangbashi):
        r1 = registry.register_resident(actor=None, name="张一", id_number=id_number(1), phone="13912345601",
                                        household=places["h1"], relation="head")
        registry.link_account(actor=None, resident=r1, user=res_user)
        r2 = registry.register_resident(actor=None, name="张二", id_number=id_number(2), household=places["h1"])
        r3 = registry.register_resident(actor=None, name="李三", id_number=id_number(3), phone="13912345603",
                                        household=places["h2"])
        r4 = registry.register_resident(actor=None, name="王四", id_number=id_number(4), household=places["h3"])
        rules = make_rules(admin)
    connection.set_schema_to_public()
    return PointsWorld(kangbashi, places, admin, staff, gw1, gw3, m1, m2, m3, m_c2, res_user, r1, r2, r3, r4, rules)


@pytest.fixture
def in_district(pw):
    """Inside Kangbashi's schema; after the test, every balance must equal the sum of its entries."""
    with tenant_context(pw.district):
        yield pw
        assert_ledger_consistent()


def assert_ledger_consistent() -> None:
    from modules.points.ledger.selectors import ledger_mismatches

    assert ledger_mismatches() == [], "a balance differs from the sum of its entries"


def set_points_config(**changes) -> None:
    from kernel.services import update_module_config
    from modules.points.ledger.services import config

    update_module_config(actor=None, module_key="points", data={**config(), **changes})


@pytest.fixture(autouse=True)
def _english_messages():
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture
def eager_celery():
    """Tasks queued after commit run at once in this process (the SMS of a posting)."""
    from config.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


class FlakySender(SmsSender):
    """Refuses every message to a number ending in 3 (a provider error), keeps the others."""

    sent: list[tuple[str, str]] = []

    def send(self, *, phone: str, text: str) -> None:
        if phone.endswith("3"):
            raise RuntimeError("provider said no")
        self.sent.append((phone, text))
