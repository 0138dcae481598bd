"""Headless Chromium on the rankings page at 360 px: the chart is drawn by the shipped ECharts (every
script and request stays on the district's own host), the table is next to it, nothing is wider than
the phone; screenshots at 360 and 1280 px go to test-artifacts/. Then the official's own page and the
public certificate on a phone.

Committed data in the "dongsheng" district (ratings on), with names unique per run."""
from __future__ import annotations

import datetime as dt
import secrets
from urllib.parse import urlparse

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from tests.conftest import ARTIFACTS, admin_of, chromium, make_user, needs_chromium, sign_in
from tests.ratings.conftest import add_rating

pytestmark = [pytest.mark.browser, needs_chromium]
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 900}


def _world(tag: str):
    from modules.ratings.reports import services
    from modules.registry import services as reg
    from tenants.models import District

    connection.set_schema_to_public()
    district = District.objects.get(slug="dongsheng")
    admin = admin_of(district)
    staff = make_user(district, f"rr-staff-{tag}", "district_admin")
    official_user = make_user(district, f"rr-o-{tag}", "official", "department", f"dep-{tag}")
    owner = make_user(district, f"rr-m-{tag}", "merchant")
    now = timezone.now()
    with tenant_context(district):
        dep = reg.create_department(actor=None, code=f"dep-{tag}", name=f"行政审批局{tag}")
        names = ["王建国", "李秀英", "张伟", "刘洋", "陈静"]
        officials = [reg.create_official(actor=None, name=f"{n}{tag[:2]}", department=dep, post="科员",
                                         user=official_user if i == 0 else None) for i, n in enumerate(names)]
        for i, official in enumerate(officials):
            count = 3 if i == 4 else 12  # the last has too few to be ranked
            for j in range(count):
                level = 5 if (i + j) % (i + 2) else 3 + (j % 2)
                add_rating(official=official, level=level, scores={"duty": level, "style": max(1, level - i % 2)},
                           rater_key=f"rr-{tag}-{i}-{j}", at=now - dt.timedelta(hours=j),
                           comment="服务热情，办事快" if j == 0 else "")
        shop = reg.create_merchant(actor=None, name=f"好味道饺子馆{tag[:2]}", owner=owner, address="鄂尔多斯大街 18 号")
        last_year = timezone.make_aware(dt.datetime(now.year - 1, 6, 1, 10))
        for j in range(40):
            add_rating(merchant=shop, level=5, rater_key=f"rr-{tag}-m-{j}", at=last_year)
        award = services.award_stars(actor=admin, year=now.year - 1)
        token = next(a.token for a in award if a.merchant_id == shop.pk)
    connection.set_schema_to_public()
    return district, staff, official_user, officials, token


def _fits(page) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width}px wide"


def test_rankings_page_draws_the_chart_at_360_px(live_server_url, django_db_blocker):
    ARTIFACTS.mkdir(exist_ok=True)
    tag = secrets.token_hex(3)
    with django_db_blocker.unblock():
        district, staff, official_user, officials, token = _world(tag)
    server = live_server_url.format(host="dongsheng.localhost")
    hosts = set()
    phone = dict(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True, device_scale_factor=2)
    with chromium() as browser:
        context = browser.new_context(**phone)
        page = context.new_page()
        page.on("request", lambda r: hosts.add(urlparse(r.url).netloc))
        sign_in(page, server, staff.username, "/ratings/staff/rankings/")
        page.wait_for_selector('[data-chart][data-drawn="1"] canvas')
        _fits(page)
        assert page.locator('[data-testid="ranking-table"] tr').count() >= 6
        first = page.locator(f'[data-testid="ranking-row"][data-id="{officials[0].pk}"]')
        assert first.count() == 1
        unranked = page.locator(f'[data-testid="ranking-row"][data-id="{officials[4].pk}"] [data-testid="unranked"]')
        assert unranked.count() == 1
        box = page.locator("#ranking-chart").bounding_box()
        assert box["width"] <= PHONE["width"] and box["height"] >= 180
        page.screenshot(path=str(ARTIFACTS / "ratings-rankings-360.png"), full_page=True)
        page.set_viewport_size(DESKTOP)
        page.wait_for_timeout(300)
        page.screenshot(path=str(ARTIFACTS / "ratings-rankings-1280.png"), full_page=True)
        page.set_viewport_size(PHONE)
        page.goto(f"{server}/ratings/staff/trends/?unit=official&id={officials[1].pk}")
        page.wait_for_selector('[data-chart][data-drawn="1"] canvas')
        _fits(page)
        page.screenshot(path=str(ARTIFACTS / "ratings-trends-360.png"), full_page=True)
        # the official's own page
        other = browser.new_context(**phone).new_page()
        other.on("request", lambda r: hosts.add(urlparse(r.url).netloc))
        sign_in(other, server, official_user.username, "/ratings/me/official/")
        other.wait_for_selector('#score-chart[data-drawn="1"] canvas')
        _fits(other)
        assert "服务热情，办事快" in other.content()
        other.screenshot(path=str(ARTIFACTS / "ratings-my-official-360.png"), full_page=True)
        # the public certificate, no sign-in
        public = browser.new_context(**phone).new_page()
        public.goto(f"{server}/ratings/stars/{token}/")
        assert public.locator('[data-testid="stars"]').get_attribute("data-stars") == "5"
        _fits(public)
        public.screenshot(path=str(ARTIFACTS / "ratings-certificate-360.png"), full_page=True)
    assert hosts == {urlparse(server).netloc}, hosts  # nothing from a CDN
