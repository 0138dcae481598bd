"""Headless Chromium, phone-sized (360 px), zh-Hans: the header shows the unread count; the inbox
lists the messages, opens a message's link (marking it read) and marks all read; the settings page
saves channels and quiet hours. Committed data in Kangbashi, removed afterwards; screenshots in
test-artifacts/."""
from __future__ import annotations

import re

import pytest
from django.db import connection, transaction
from django_tenants.utils import tenant_context

from tests.conftest import ARTIFACTS, PASSWORD, chromium, make_user, needs_chromium

pytestmark = [pytest.mark.browser, needs_chromium]
PHONE_VIEWPORT = {"width": 360, "height": 740}
UNWANTED = (  # English left on a zh-Hans page, or the case status 在办 for "Open"
    "Messages", "Mark as read", "See more", "在办", "Notification settings", "Your report", "Quiet hours")


def _messages(district, user):
    from kernel import events
    from notifications.services import Note, notify, to_user

    with tenant_context(district), transaction.atomic():
        for kind, ref, extra in [("cases.accepted", "KAN-20261207-0007", {}),
                                 ("cases.resolved", "KAN-20261207-0008", {"result": "纸箱已清理"})]:
            notify(event=events.publish("test.browser", {}), kind=kind,
                   notes=[Note(to_user(user), {"ref": ref, "case_title": "楼道堆物", **extra}, "/points/")])
    connection.set_schema_to_public()


def _big_enough(page, selector: str) -> None:
    box = page.locator(selector).first.bounding_box()
    assert box and box["height"] >= 44 and box["width"] >= 44, f"{selector} is {box}"


def test_the_inbox_on_a_phone(live_server_url, django_db_blocker):
    from tenants.models import District

    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        district = District.objects.get(slug="kangbashi")
        user = make_user(district, "inbox-browser", "resident")
        _messages(district, user)
        server = live_server_url.format(host="kangbashi.localhost")
        try:
            with chromium() as browser:
                page = browser.new_context(viewport=PHONE_VIEWPORT, locale="zh-CN").new_page()
                page.goto(f"{server}/login/?next=/")
                page.click("details summary")
                page.fill('input[name="username"]', "inbox-browser")
                page.fill('input[name="password"]', PASSWORD)
                page.click('button[value="password"]')
                page.wait_for_url(re.compile(r"/$"))
                assert page.inner_text('[data-testid="unread-count"]') == "2"
                _big_enough(page, '[data-testid="inbox-link"]')
                page.click('[data-testid="inbox-link"]')
                page.wait_for_selector('[data-testid="inbox"]')
                text = page.inner_text("main")
                assert "您反映的问题 KAN-20261207-0007 已受理" in text and "纸箱已清理" in text
                assert not [w for w in UNWANTED if w in text], text
                _big_enough(page, '[data-testid="open"]')
                assert page.evaluate("() => document.documentElement.scrollWidth") <= 360
                page.screenshot(path=str(ARTIFACTS / "inbox-phone.png"), full_page=True)
                page.locator('[data-testid="open"]').first.click()
                page.wait_for_url(re.compile(r"/points/$"))
                assert page.inner_text('[data-testid="unread-count"]') == "1"
                page.goto(f"{server}/messages/")
                page.click('[data-testid="read-all"]')
                page.wait_for_selector('[data-testid="message"][data-read="1"]')
                assert page.locator('[data-testid="unread-count"]').count() == 0
                page.click('[data-testid="preferences-link"]')
                page.check('input[name="cases:sms"]')
                page.fill('input[name="quiet_start"]', "22:00")
                page.fill('input[name="quiet_end"]', "07:00")
                page.screenshot(path=str(ARTIFACTS / "inbox-preferences-phone.png"), full_page=True)
                page.click("form.prefs button.btn")
                page.wait_for_selector(".messages .success")
                assert page.is_checked('input[name="cases:sms"]')
                assert not [w for w in UNWANTED if w in page.inner_text("main")]
        finally:
            connection.set_schema_to_public()
            with tenant_context(district):
                user.delete()
            connection.set_schema_to_public()
