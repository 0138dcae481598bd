"""Headless Chromium at 360 px: a bad rating of an official (its follow-up case opened by cases through
the outbox) → the department's staff open the follow-up, see the rater's masked phone and a call link,
record the callback → the case is resolved and the rater reads the outcome in their inbox, follows
the message's link and adds their one follow-up rating (追评).

Committed data in the "dongsheng" district (ratings and cases on), with names unique per run."""
from __future__ import annotations

import re
import secrets

import pytest
from django.db import connection, transaction
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from tests.conftest import ARTIFACTS, chromium, in_thread, make_user, needs_chromium, sign_in
from tests.ratings.conftest import add_rating

pytestmark = [pytest.mark.browser, needs_chromium]
PHONE = {"width": 360, "height": 740}


def _fits(page, name: str) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width}px wide"
    page.screenshot(path=str(ARTIFACTS / f"ratings-followup-{name}-360.png"), full_page=True)


def _world(tag: str):
    from kernel import events
    from kernel.events import relay_pending
    from modules.ratings.followup import services
    from modules.registry import services as registry
    from tenants.models import District

    connection.set_schema_to_public()
    district = District.objects.get(slug="dongsheng")
    code = f"fu-{tag}"
    staff = make_user(district, f"fu_staff_{tag}", "official", "department", code)
    phone = f"1391{secrets.randbelow(10**7):07d}"
    rater = make_user(district, f"fu_rater_{tag}", "resident", phone=phone)
    with tenant_context(district):
        department = registry.create_department(actor=None, code=code, name=f"回访测试局{tag}")
        official = registry.create_official(actor=None, name=f"王{tag}", department=department, post="科员")
        rating = add_rating(official=official, level=1, rater=rater, comment="窗口排队太久")
        with transaction.atomic():
            follow_up = services.open_follow_up(rating=rating)
            events.publish("ratings.bad_rating", services.bad_rating_payload(rating))
        relay_pending()
        relay_pending()
        follow_up.refresh_from_db()
        assert follow_up.case_id is not None
    connection.set_schema_to_public()
    return district, staff, rater, phone, rating, follow_up


def test_callback_on_the_phone_and_the_rater_reads_the_outcome(live_server_url, django_db_blocker):
    tag = secrets.token_hex(3)
    with django_db_blocker.unblock():
        district, staff, rater, phone, rating, follow_up = _world(tag)
        server = live_server_url.format(host="dongsheng.localhost")
        with chromium() as browser:
            page = browser.new_page(viewport=PHONE, locale="zh-CN")
            sign_in(page, server, staff.username, "/ratings/staff/follow-ups/")
            item = page.locator(f'[data-follow-up="{follow_up.pk}"]')
            expect(item).to_be_visible()
            _fits(page, "list")
            item.click()
            expect(page.get_by_test_id("phone-masked")).to_have_text(f"{phone[:3]}****{phone[-4:]}")
            expect(page.get_by_test_id("call")).to_have_attribute("href", f"tel:+86{phone}")
            _fits(page, "detail")
            form = page.get_by_test_id("callback-form")
            form.locator('input[name="outcome"][value="explained"]').check()
            form.locator('input[name="reached"][value="yes"]').check()
            form.locator('textarea[name="note"]').fill("已电话说明：已增开窗口")
            box = page.get_by_test_id("callback-submit").bounding_box()
            assert box["height"] >= 44
            page.get_by_test_id("callback-submit").click()
            expect(page.get_by_test_id("follow-up-status")).to_have_attribute("class", re.compile("done"))
            expect(page.get_by_test_id("callback-note")).to_have_text("已电话说明：已增开窗口")

            def relay():
                from kernel.events import relay_pending
                from modules.cases.models import Case

                relay_pending()
                return Case.objects.get(pk=follow_up.case_id).status

            assert in_thread(district, relay) == "resolved"

            other = browser.new_page(viewport=PHONE, locale="zh-CN")
            sign_in(other, server, rater.username, "/messages/")
            message = other.locator("text=已电话说明：已增开窗口").first
            expect(message).to_be_visible()
            _fits(other, "inbox")
            other.goto(f"{server}/ratings/follow-on/{rating.pk}/")
            expect(other.get_by_test_id("callback-outcome")).to_contain_text("已电话说明")
            other.locator('input[name="level"][value="4"]').check()
            other.get_by_test_id("follow-on-submit").click()
            expect(other.get_by_test_id("follow-on-added")).to_be_visible()
            _fits(other, "follow-on")

        def follow_on():
            from modules.ratings.ledger.models import Rating

            return list(Rating.objects.filter(follow_on_of=rating).values_list("level", "rater_id"))

        assert in_thread(district, follow_on) == [(4, rater.pk)]
