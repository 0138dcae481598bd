"""Headless Chromium on a 360 px phone: a signed-in resident scans an official's code, taps 评价 on the
landing and taps a face — two taps to a submitted rating — and lands on the rating with its state and
the follow-up card of a bad rating. The rate page and the rating are photographed (test-artifacts/).

Committed data in the "dongsheng" district (ratings on), names unique per run; the ratings made are
removed afterwards."""
from __future__ import annotations

import re
import secrets

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from tests.conftest import ARTIFACTS, PASSWORD, admin_of, chromium, in_thread, make_user, needs_chromium
from tests.ratings.test_ledger_pages import zh_catalogue  # noqa: F401 - the fixture

pytestmark = [pytest.mark.browser, needs_chromium]
PHONE = {"width": 360, "height": 740}


def _world(tag: str):
    from modules.codes import services as codes
    from modules.registry import services as reg
    from tenants.models import District

    connection.set_schema_to_public()
    district = District.objects.get(slug="dongsheng")
    admin = admin_of(district)
    up = tag.upper()
    rater = make_user(district, f"rt-b-{tag}", "resident")
    with tenant_context(district):
        street = reg.create_street(actor=admin, code=f"{up}S", name="天骄街道")
        community = reg.create_community(actor=admin, code=f"{up}C", name="康和社区", street=street)
        grid = reg.create_grid(actor=admin, code=f"{up}G", name="一网格", community=community)
        compound = reg.create_compound(actor=admin, code=f"{up}X", name=f"康和小区{tag}", grid=grid)
        building = reg.create_building(actor=admin, compound=compound, number="3")
        home = reg.create_household(actor=admin, building=building, unit="1", room="301")
        resident = reg.register_resident(actor=None, name=f"王芳{tag}", household=home, relation="head")
        reg.link_account(actor=None, resident=resident, user=rater)
        department = reg.create_department(actor=None, code=f"civil-{tag}", name="民政局")
        official = reg.create_official(actor=None, name="钱进", department=department, post="社会救助科科长")
        token = codes.issue_codes(actor=admin, official=official)[0].token
    connection.set_schema_to_public()
    return district, rater, official, token


def _fits_the_phone(page) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width}px wide"


def test_scan_tap_rate_and_see_the_rating(live_server_url, django_db_blocker, zh_catalogue):  # noqa: F811
    from modules.ratings.ledger.models import Rating, Tally

    ARTIFACTS.mkdir(exist_ok=True)
    tag = secrets.token_hex(3)
    with django_db_blocker.unblock():
        district, rater, official, token = _world(tag)
        server = live_server_url.format(host="dongsheng.localhost")
        phone = dict(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True, device_scale_factor=2,
                     extra_http_headers={"Accept-Language": "zh-hans"})
        try:
            with chromium() as browser:
                page = browser.new_context(**phone).new_page()
                page.goto(f"{server}/login/?next=/c/{token}")
                page.click("details summary")
                page.fill('input[name="username"]', rater.username)
                page.fill('input[name="password"]', PASSWORD)
                page.click('button[value="password"]')
                page.wait_for_url(re.compile(re.escape(f"/c/{token}") + "$"))
                rate = page.locator('[data-testid="code-actions"] [data-action="rate"]')
                assert "评价" in rate.inner_text()
                with page.expect_navigation():
                    rate.click()  # tap 1
                assert page.url.endswith(f"/ratings/rate/{token}/")
                assert page.get_by_test_id("subject-name").inner_text() == "钱进"
                for level in range(1, 6):
                    box = page.get_by_test_id(f"face-{level}").bounding_box()
                    assert box["height"] >= 44 and box["width"] >= 300
                _fits_the_phone(page)
                page.screenshot(path=str(ARTIFACTS / "ratings-rate-360.png"), full_page=True)
                page.get_by_test_id("rate-more").locator("summary").click()
                _fits_the_phone(page)
                page.screenshot(path=str(ARTIFACTS / "ratings-rate-more-360.png"), full_page=True)
                page.get_by_test_id("comment").fill("办事拖拉，跑了三趟")
                with page.expect_navigation():
                    page.get_by_test_id("face-2").click()  # tap 2
                assert re.search(r"/ratings/mine/\d+/$", page.url)
                assert page.get_by_test_id("rated-subject").inner_text() == "钱进"
                assert "不满意" in page.get_by_test_id("rated-level").inner_text()
                assert page.get_by_test_id("follow-up").count() == 1
                _fits_the_phone(page)
                page.screenshot(path=str(ARTIFACTS / "ratings-rated-360.png"), full_page=True)
                cookies = {c["name"]: c for c in page.context.cookies()}
                assert cookies["rt_device"]["httpOnly"]

            rows = in_thread(district, lambda: list(Rating.objects.filter(official=official).values_list(
                "level", "state", "comment", "channel")))
            assert rows == [(2, "counted", "办事拖拉，跑了三趟", "official_code")]
        finally:
            def clean():
                from modules.ratings.followup.models import FollowUp

                FollowUp.objects.filter(rating__in=Rating.objects.filter(official=official)).delete()
                Rating.objects.filter(official=official).delete()
                Tally.objects.filter(official=official).delete()

            in_thread(district, clean)
