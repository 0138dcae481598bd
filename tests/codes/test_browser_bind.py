"""Headless Chromium on a phone-sized screen: scan a household code → sign in with phone and one-time
code → name and ID number → bound at once (the ledger has this person at this household). Committed
data in the "worker" district, removed afterwards."""
from __future__ import annotations

import re
import secrets

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from tests.codes.conftest import build_place, destroy_place, id_number, issue_all
from tests.conftest import ARTIFACTS, chromium, needs_chromium

pytestmark = [pytest.mark.browser, needs_chromium]
PHONE = "13566667777"


def test_scan_sign_in_and_bind_in_chromium(live_server_url, django_db_blocker):
    from django.contrib.auth import get_user_model

    from kernel.personal import blind_index, normalize_phone
    from kernel.sms import MemorySender
    from modules.registry.models import Resident
    from tenants.models import District

    ARTIFACTS.mkdir(exist_ok=True)
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        district = District.objects.get(slug="worker")
        place = build_place(district, prefix="B" + secrets.token_hex(3).upper())
        try:
            codes = issue_all(place)
            token, outdoor = codes["h1"].token, codes["h1_outdoor"].token
            connection.set_schema_to_public()
            server = live_server_url.format(host="worker.localhost")
            with chromium() as browser:
                page = browser.new_page(viewport={"width": 360, "height": 740}, locale="zh-CN")
                page.goto(f"{server}/c/{token}")  # what the camera opens
                assert page.get_by_test_id("code-title").inner_text() == place.h1.address
                assert page.get_by_test_id("code-landing").get_attribute("data-viewer") == "passerby"
                assert "绑定本户" in page.locator('[data-action="bind"]').inner_text()
                page.screenshot(path=str(ARTIFACTS / "codes-scan-household.png"), full_page=True)
                page.locator('[data-action="bind"]').click()
                page.wait_for_url(re.compile(r"/login/\?next=/codes/bind/"))
                page.fill('input[name="phone"]', PHONE)
                page.click('button[value="send"]')
                page.wait_for_selector('input[name="code"]')
                sms = [text for phone, text in MemorySender.outbox if phone == normalize_phone(PHONE)]
                one_time = re.search(r"\d{6}", sms[-1]).group(0)
                page.fill('input[name="code"]', one_time)
                page.click('button[value="verify"]')
                page.wait_for_url(re.compile(rf"/codes/bind/{token}/$"))
                page.fill('input[name="name"]', "李四")
                page.fill('input[name="id_number"]', id_number(2))
                page.screenshot(path=str(ARTIFACTS / "codes-bind-form.png"), full_page=True)
                page.get_by_test_id("bind-submit").click()
                result = page.get_by_test_id("bind-result")
                assert result.get_attribute("data-status") == "approved"
                assert "您已绑定本户" in result.inner_text()
                page.screenshot(path=str(ARTIFACTS / "codes-bind-done.png"), full_page=True)
                page.get_by_test_id("back-to-household").click()
                members = page.get_by_test_id("members").inner_text()
                assert "张三" in members and "李四" in members
                page.goto(f"{server}/c/{outdoor}")  # the plate on the door, as a passer-by sees it
                contacts = page.get_by_test_id("contacts").inner_text()
                assert "网格员" in contacts and "13911112222" not in contacts  # the worker's own phone stays private
                assert page.locator('[data-testid="contacts"] a[href^="tel:+8613912345678"]').count() == 1
                page.screenshot(path=str(ARTIFACTS / "codes-scan-outdoor.png"), full_page=True)
            with tenant_context(district):
                user = get_user_model().objects.get(phone_index=blind_index(normalize_phone(PHONE), "phone"))
                assert Resident.objects.get(pk=place.member.pk).user_id == user.pk
        finally:
            connection.set_schema_to_public()
            with tenant_context(district):  # outside Playwright's event loop: the ORM is synchronous
                signed_in = list(get_user_model().objects.filter(
                    phone_index=blind_index(normalize_phone(PHONE), "phone")))
            destroy_place(place, users=signed_in)
            connection.set_schema_to_public()
