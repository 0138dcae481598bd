"""Headless Chromium (Playwright) opens a district portal and checks its branding."""
from __future__ import annotations

import pytest
from django.db import connection

from tests.conftest import ARTIFACTS, chromium, needs_chromium

pytestmark = [pytest.mark.browser, needs_chromium]


@pytest.fixture
def branded_laixi(django_db_blocker):
    from tenants.models import District
    from tenants.services import update_branding

    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        district = District.objects.get(slug="laixi")
        before = {f: getattr(district, f) for f in ("title_zh", "title_en", "primary_color", "accent_color")}
        update_branding(actor=None, district=district, title_zh="莱西·码上生活", title_en="Laixi Life on a Code",
                        primary_color="#2e7d32", accent_color="#ff7043")
        yield district
        update_branding(actor=None, district=District.objects.get(slug="laixi"), **before)


def test_portal_shows_the_districts_branding_in_chromium(live_server_url, branded_laixi):
    url = live_server_url.format(host="laixi.localhost")
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN")  # a phone
        page.goto(url + "/")
        title = page.get_by_test_id("portal-title")
        assert title.inner_text() == "莱西·码上生活"
        header_bg = page.eval_on_selector("header.brand", "el => getComputedStyle(el).backgroundColor")
        assert header_bg == "rgb(46, 125, 50)"
        nav = page.get_by_test_id("module-nav").inner_text()
        assert "政策宣传" in nav
        page.screenshot(path=str(ARTIFACTS / "portal-laixi-zh.png"), full_page=True)
        page.get_by_role("button", name="EN").click()
        page.wait_for_load_state()
        assert page.get_by_test_id("portal-title").inner_text() == "Laixi Life on a Code"
        assert "Notices" in page.get_by_test_id("module-nav").inner_text()
        page.screenshot(path=str(ARTIFACTS / "portal-laixi-en.png"), full_page=True)
        # another district on the same server keeps its own look
        page.goto(live_server_url.format(host="dongsheng.localhost") + "/")
        assert page.get_by_test_id("portal-title").inner_text() != "Laixi Life on a Code"
        assert page.eval_on_selector("header.brand", "el => getComputedStyle(el).backgroundColor") != header_bg
