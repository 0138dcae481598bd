"""Scanning: the landing page per kind and per viewer (passer-by, resident of the household, other
resident, owner, staff), actions registered by other modules, the API for apps, unknown and revoked
codes."""
from __future__ import annotations

import pytest

from modules.codes.actions import _actions, register_action, unregister_action
from tests.codes.conftest import build_place, issue_all
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

FULL_NUMBERS = ("13912345678", "13812345678", "13911112222")
PUBLISHED = ("13912345678", "13812345678")  # the police's and the property manager's duty numbers
WORKER_OWN = "13911112222"  # the grid worker's own phone: personal


def page(place, user, token):
    response = client_for(place.district, user).get(f"/c/{token}")
    assert response.status_code == 200, response.content[:500]
    return response.content.decode()


def viewer(html: str) -> str:
    return html.split('data-viewer="', 1)[1].split('"', 1)[0]


@pytest.fixture
def module_actions():
    """Actions as later modules will register them: cases and points at the outdoor code, ratings at
    merchant and official codes, a resident service at the household code. The real registrations
    are put back afterwards."""
    saved = {kind: dict(actions) for kind, actions in _actions.items()}
    made = [
        register_action("outdoor", "report", "我要上报", "Report a problem", lambda ctx: f"/cases/new/?code={ctx.token}",
                        who="passerby", module="cases"),
        register_action("outdoor", "praise", "我要点赞", "Praise", lambda ctx: f"/points/praise/?code={ctx.token}",
                        who="passerby", module="points"),
        register_action("merchant", "rate", "评价商户", "Rate this shop", lambda ctx: f"/ratings/m/{ctx.token}/",
                        who="passerby", module="ratings"),
        register_action("official", "rate", "评价干部", "Rate this official", lambda ctx: f"/ratings/o/{ctx.token}/",
                        who="passerby", module="ratings"),
        register_action("household", "bills", "生活缴费", "Pay bills", lambda ctx: "/bills/", who="resident",
                        module="points"),
        register_action("merchant", "requests", "商户诉求", "File a request", lambda ctx: "/cases/merchant/",
                        who="owner", module="cases"),
    ]
    yield made
    for action in made:
        unregister_action(action.kind, action.key)
    for kind, actions in saved.items():
        _actions[kind].clear()
        _actions[kind].update(actions)


def test_a_passer_by_at_the_outdoor_code_sees_praise_report_and_the_duty_numbers(place, codes, module_actions):
    html = page(place, None, codes["h1_outdoor"].token)
    assert viewer(html) == "passerby"
    assert place.h1.address in html
    assert 'data-action="report"' in html and 'data-action="praise"' in html  # kangbashi has cases and points
    assert 'data-contact="grid_worker"' in html and "李强" in html
    assert 'data-contact="police"' in html and "王警官" in html and 'href="tel:+8613912345678"' in html
    assert 'data-contact="property_manager"' in html and "安居物业 李经理" in html and 'href="tel:+8613812345678"' in html
    assert WORKER_OWN not in html and "****" not in html  # published numbers whole; the worker's own not at all
    assert "张三" not in html and "李四" not in html  # who lives there is not for passers-by
    assert 'data-action="manage"' not in html


def test_staff_at_the_outdoor_code_see_the_numbers_in_full(place, codes):
    html = page(place, place.worker, codes["h1_outdoor"].token)
    assert viewer(html) == "staff"
    assert 'href="tel:+8613912345678"' in html and 'href="tel:+8613812345678"' in html
    assert 'href="tel:+8613911112222"' in html  # no duty number for the grid: staff get the worker's own
    assert 'data-action="manage"' in html


def test_actions_of_modules_that_are_off_are_hidden(dongsheng, module_actions):
    place = build_place(dongsheng, prefix="D")  # dongsheng: cases on, points off
    codes = issue_all(place)
    html = page(place, None, codes["h1_outdoor"].token)
    assert 'data-action="report"' in html
    assert 'data-action="praise"' not in html


def test_the_configured_contacts_only(place, codes):
    from kernel.services import update_module_config

    with place:
        update_module_config(actor=place.admin, module_key="codes",
                             data={"outdoor_contacts": {"grid_worker": True, "police": False,
                                                        "property_manager": False}})
    html = page(place, None, codes["h1_outdoor"].token)
    assert 'data-contact="grid_worker"' in html
    assert 'data-contact="police"' not in html and 'data-contact="property_manager"' not in html


def test_a_resident_of_the_household_sees_its_services_and_members(place, codes, module_actions):
    html = page(place, place.head_user, codes["h1"].token)
    assert viewer(html) == "owner"  # the household head
    assert 'data-testid="members"' in html and "张三" in html and "李四" in html
    assert 'data-action="bills"' in html and 'data-action="invite"' in html
    assert 'data-action="bind"' not in html
    assert 'data-testid="remove-member"' in html


def test_another_resident_at_a_household_code_is_offered_binding_only(place, codes, module_actions):
    html = page(place, place.other_user, codes["h1"].token)
    assert viewer(html) == "passerby"  # at a household code, "resident" means of this household
    assert 'data-action="bind"' in html
    assert 'data-testid="members"' not in html and "李四" not in html
    assert 'data-action="bills"' not in html and 'data-action="invite"' not in html


def test_a_passer_by_at_a_household_code_can_go_and_sign_in_to_bind(place, codes):
    client = client_for(place.district)
    html = client.get(f"/c/{codes['h1'].token}").content.decode()
    assert 'data-action="bind"' in html and "李四" not in html
    bind = client.get(f"/codes/bind/{codes['h1'].token}/")
    assert bind.status_code == 302 and bind["Location"] == f"/login/?next=/codes/bind/{codes['h1'].token}/"


def test_staff_at_a_household_code_see_members_and_manage(place, codes):
    html = page(place, place.staff, codes["h1"].token)
    assert viewer(html) == "staff"
    assert "李四" in html and 'data-action="manage"' in html
    html = page(place, place.worker2, codes["h1"].token)  # not their grid: a plain visitor
    assert viewer(html) == "passerby" and "李四" not in html


def test_a_customer_at_a_merchant_code_sees_the_shop_and_can_rate(place, codes, module_actions):
    html = page(place, place.other_user, codes["shop"].token)
    assert viewer(html) == "resident"
    assert "郑记面馆" in html and "康和小区底商 5 号" in html and 'data-action="rate"' in html
    assert 'data-action="requests"' not in html and "13600003333" not in html


def test_the_merchant_owner_gets_their_management_page(place, codes, module_actions):
    html = page(place, place.merchant_user, codes["shop"].token)
    assert viewer(html) == "owner" and 'data-testid="owner-badge"' in html and 'data-testid="owner-page"' in html
    assert 'data-action="requests"' in html


def test_an_official_code_shows_the_official_and_their_own_page(place, codes, module_actions):
    html = page(place, None, codes["official"].token)
    assert viewer(html) == "passerby" and "钱进" in html and "民政局" in html and 'data-action="rate"' in html
    html = page(place, place.official_user, codes["official"].token)
    assert viewer(html) == "owner"


def test_a_stall_code_says_who_may_trade_where_and_when(place, codes):
    html = page(place, None, codes["stall"].token)
    assert 'data-kind="stall"' in html and "老赵烤红薯" in html
    assert "摊主 赵六" in html and "康和小区东门外夜市 12 号位" in html and "17:00–22:00" in html
    inspector = page(place, place.worker, codes["stall"].token)
    assert viewer(inspector) == "staff"


def test_an_unknown_code_is_a_clear_404(place, codes):
    client = client_for(place.district)
    assert client.post(f"/c/{codes['h1'].token}").status_code == 405
    response = client.get("/c/AAAAAAAAAAAAAAAAAAAAAA")
    assert response.status_code == 404
    assert "No such code" in response.content.decode() or "找不到这个码" in response.content.decode()
    assert client.get(f"/c/{codes['h1'].pk}").status_code == 404  # a database id opens nothing


def test_codes_of_one_district_do_not_open_in_another(place, codes, laixi):
    response = client_for(laixi).get(f"/c/{codes['h1'].token}")
    assert response.status_code == 404


def test_the_scan_api_for_apps(place, codes, module_actions):
    anonymous = client_for(place.district)
    data = anonymous.get(f"/api/v1/codes/scan/{codes['h1_outdoor'].token}/").json()
    assert data["kind"] == "outdoor" and data["viewer"] == "passerby" and data["status"] == "active"
    assert data["target"]["address"] == place.h1.address
    assert {a["key"] for a in data["actions"]} == {"report", "praise", "contact"}
    assert {c["role"] for c in data["contacts"]} == {"grid_worker", "police", "property_manager"}
    assert all(n in str(data) for n in PUBLISHED) and WORKER_OWN not in str(data)
    mine = client_for(place.district, place.head_user, token=True).get(f"/api/v1/codes/scan/{codes['h1'].token}/")
    assert mine.json()["viewer"] == "owner" and "invite" in {a["key"] for a in mine.json()["actions"]}
    missing = anonymous.get("/api/v1/codes/scan/AAAAAAAAAAAAAAAAAAAAAA/")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "code_not_found"


def test_the_scan_api_says_a_revoked_code_was_replaced(place, codes):
    from modules.codes.services import revoke_and_reissue

    with place:
        revoke_and_reissue(actor=place.admin, code=codes["shop"], reason="招牌更换")
    response = client_for(place.district).get(f"/api/v1/codes/scan/{codes['shop'].token}/")
    assert response.status_code == 410
    assert response.json()["error"]["code"] == "code_revoked" and "replaced" in response.json()["error"]["message"]
