"""Headless Chromium on a phone: the district administrator opens the held ratings, sees why one is
held, tries to reject it without a reason (refused, still held), then rejects it with one; the queue is
empty. Both pages fit 360 px and are photographed (test-artifacts/). Committed data in "dongsheng"
(ratings on), removed afterwards."""
from __future__ import annotations

import re
import secrets

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from tests.conftest import ARTIFACTS, PASSWORD, admin_of, chromium, needs_chromium

pytestmark = [pytest.mark.browser, needs_chromium]
PHONE = {"width": 360, "height": 740}


def _fits(page) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width}px wide"


def test_reject_a_held_rating_on_a_phone(live_server_url, django_db_blocker):
    from modules.ratings.ledger.models import Rating
    from modules.registry import services as registry
    from modules.registry.models import Department, Official
    from tenants.models import District

    tag = secrets.token_hex(3)
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        district = District.objects.get(slug="dongsheng")
        admin = admin_of(district)
        with tenant_context(district):
            dept = registry.create_department(actor=None, code=f"ri-{tag}", name="民政局")
            official = registry.create_official(actor=None, name=f"钱进{tag}", department=dept, post="科长")
            rating = Rating.objects.create(
                subject_kind="official", official=official, department=dept, channel="official_code", level=1,
                rater_key=f"p:ri-{tag}", period_key=timezone.localdate().strftime("%Y-%m"), state="held",
                created_at=timezone.now(),
                hold_reasons=[{"rule": "burst", "detail": "", "numbers": {"before": 31, "minutes": 60, "limit": 30}}])
        connection.set_schema_to_public()
        server = live_server_url.format(host="dongsheng.localhost")
        try:
            with chromium() as browser:
                page = browser.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True,
                                           device_scale_factor=2).new_page()
                page.goto(f"{server}/login/?next=/ratings/staff/held/")
                page.click("details summary")
                page.fill('input[name="username"]', admin.username)
                page.fill('input[name="password"]', PASSWORD)
                page.click('button[value="password"]')
                page.wait_for_url(re.compile(r"/ratings/staff/held/$"))
                card = page.locator(f'[data-testid="held-rating"][data-rating="{rating.pk}"]')
                assert "31" in card.inner_text()  # the reason, with its numbers
                _fits(page)
                page.screenshot(path=str(ARTIFACTS / "ratings-held-360.png"), full_page=True)
                card.click()
                page.wait_for_url(re.compile(rf"/ratings/staff/held/{rating.pk}/$"))
                _fits(page)
                page.screenshot(path=str(ARTIFACTS / "ratings-held-detail-360.png"), full_page=True)
                # no reason: the browser's own check stops it; past it, the server refuses (400) too
                page.evaluate("() => document.querySelectorAll('textarea').forEach(t => t.removeAttribute('required'))")
                page.click('[data-testid="reject"]')
                page.wait_for_selector(".field-error")
                assert page.locator('[data-testid="state"]').get_attribute("class").endswith("st-held")
                page.fill('[data-testid="reject-note"]', "同一时段集中刷评")
                page.click('[data-testid="reject"]')
                page.wait_for_url(re.compile(r"/ratings/staff/held/$"))
                assert page.locator(f'[data-rating="{rating.pk}"]').count() == 0
                assert page.locator(".messages .success").count() == 1
            with tenant_context(district):
                rating.refresh_from_db()
                assert rating.state == "rejected" and rating.decision_note == "同一时段集中刷评"
        finally:
            with tenant_context(district):
                Rating.objects.filter(pk=rating.pk).delete()
                Official.objects.filter(pk=official.pk).delete()
                Department.objects.filter(pk=dept.pk).delete()
            connection.set_schema_to_public()
