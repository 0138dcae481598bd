"""Headless Chromium, phone-sized: a resident snaps a report with a photo and their position → a grid
worker grabs it from the pool, takes it on, starts and resolves it with a result photo → the resident
confirms and rates 5 → the case is closed. Committed data in the "dongsheng" district, removed
afterwards; screenshots in test-artifacts/."""
from __future__ import annotations

import io
import re
import secrets

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.utils.functional import empty
from django_tenants.utils import tenant_context
from PIL import Image

from tests.codes.conftest import build_place, destroy_place, issue_all
from tests.conftest import ARTIFACTS, PASSWORD, chromium, needs_chromium

pytestmark = [pytest.mark.browser, needs_chromium]
PHONE = "13700001111"  # build_place's household head (张三), bound to h1
PHONE_VIEWPORT = {"width": 360, "height": 740}


def _photo(path, color) -> str:
    buf = io.BytesIO()
    image = Image.new("RGB", (640, 480), color)
    image.paste((255, 255, 255), (200, 150, 440, 330))
    image.save(buf, "JPEG")
    path.write_bytes(buf.getvalue())
    return str(path)


def _fits_the_phone(page) -> None:
    """Nothing wider than the screen (no sideways scrolling on a phone)."""
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE_VIEWPORT["width"], f"{page.url} is {width}px wide"


def _sign_in_with_phone(page, server: str, next_url: str) -> None:
    from kernel.personal import normalize_phone
    from kernel.sms import MemorySender

    page.goto(f"{server}/login/?next={next_url}")
    page.fill('input[name="phone"]', PHONE)
    page.click('button[value="send"]')
    page.wait_for_selector('input[name="code"]')
    sms = [text for phone, text in MemorySender.outbox if phone == normalize_phone(PHONE)]
    page.fill('input[name="code"]', re.search(r"\d{6}", sms[-1]).group(0))
    page.click('button[value="verify"]')
    page.wait_for_url(re.compile(re.escape(next_url) + "$"))


def _sign_in_with_password(page, server: str, username: str, next_url: str) -> None:
    page.goto(f"{server}/login/?next={next_url}")
    page.click("details summary")
    page.fill('input[name="username"]', username)
    page.fill('input[name="password"]', PASSWORD)
    page.click('button[value="password"]')
    page.wait_for_url(re.compile(re.escape(next_url) + "$"))


def _cleanup(district, place) -> None:
    from modules.cases.models import Attachment, Case

    connection.set_schema_to_public()
    with tenant_context(district):
        cases = Case.objects.filter(grid__community=place.community) | Case.objects.filter(reporter=place.head_user)
        for row in Attachment.objects.filter(case__in=cases):
            row.file.delete(save=False)
        cases.delete()
    destroy_place(place)
    connection.set_schema_to_public()


def _build(settings, tmp_path):
    from tenants.models import District

    settings.MEDIA_ROOT = tmp_path / "media"
    if default_storage._wrapped is not empty:  # django-tenants caches the media root
        default_storage._wrapped.__dict__.pop("relative_media_root", None)
    ARTIFACTS.mkdir(exist_ok=True)
    connection.set_schema_to_public()
    district = District.objects.get(slug="dongsheng")
    return district, build_place(district, prefix="P" + secrets.token_hex(3).upper())


def test_report_grab_resolve_confirm_on_a_phone(live_server_url, django_db_blocker, settings, tmp_path):
    from modules.cases.models import Attachment, Case

    report_photo = _photo(tmp_path / "parking.jpg", (200, 60, 40))
    result_photo = _photo(tmp_path / "cleared.jpg", (40, 160, 80))
    with django_db_blocker.unblock():
        district, place = _build(settings, tmp_path)
        try:
            server = live_server_url.format(host="dongsheng.localhost")
            with chromium() as browser:
                phone = dict(viewport=PHONE_VIEWPORT, locale="zh-CN", is_mobile=True, has_touch=True,
                             device_scale_factor=2)
                resident = browser.new_context(**phone, geolocation={"latitude": 39.6081, "longitude": 109.7812,
                                                                     "accuracy": 12}, permissions=["geolocation"])
                me = resident.new_page()
                _sign_in_with_phone(me, server, "/cases/report/")
                assert me.get_by_test_id("report-page").get_attribute("data-mode") == "snap"
                me.locator("label.chip", has_text="乱停乱放").click()  # a category in grab mode
                me.fill("#title", "车辆堵住消防通道")
                me.fill("#description", "3号楼东侧消防通道被两辆车堵住，已经一整天了。")
                me.locator("#files").set_input_files(report_photo)
                assert me.locator("#thumbs img").count() == 1
                me.select_option("#place", value=f"h:{place.h1.pk}")
                me.click("#locate")
                me.wait_for_selector("#gps-status.ok")
                assert me.input_value("#latitude") == "39.608100"
                assert "还可输入" in me.locator("#title-left").inner_text() or "left" in me.locator(
                    "#title-left").inner_text()
                _fits_the_phone(me)
                me.screenshot(path=str(ARTIFACTS / "cases-1-report-form.png"), full_page=True)
                me.get_by_test_id("submit").click()
                me.wait_for_url(re.compile(r"/cases/[A-Z0-9]+-\d{8}-\d{4}/\?new=1$"))
                ref = me.get_by_test_id("filed-ref").inner_text().strip()
                assert me.get_by_test_id("case-page").get_attribute("data-status") == "submitted"
                assert me.locator('[data-testid="photos"] img').count() == 1
                me.wait_for_function("() => [...document.querySelectorAll('[data-testid=photos] img')]"
                                     ".every(i => i.complete && i.naturalWidth > 0)")  # the photo is served
                _fits_the_phone(me)
                me.screenshot(path=str(ARTIFACTS / "cases-2-reported.png"), full_page=True)

                worker = browser.new_context(**phone).new_page()
                _sign_in_with_password(worker, server, place.worker.username, "/cases/pool/")
                card = worker.locator(f'[data-testid="pool"] [data-ref="{ref}"]')
                assert card.count() == 1
                _fits_the_phone(worker)
                worker.screenshot(path=str(ARTIFACTS / "cases-3-pool.png"), full_page=True)
                card.get_by_test_id("grab").click()
                worker.locator(f'[data-testid="work"] [data-ref="{ref}"] [data-testid="accept"]').click()
                worker.locator(f'[data-testid="work"] [data-ref="{ref}"] [data-testid="start"]').click()
                worker.locator(f'[data-testid="work"] [data-ref="{ref}"][data-status="in_progress"]').wait_for()
                _fits_the_phone(worker)
                worker.screenshot(path=str(ARTIFACTS / "cases-4-my-work.png"), full_page=True)
                worker.locator(f'[data-testid="work"] [data-ref="{ref}"] [data-testid="open"]').click()
                worker.wait_for_url(re.compile(rf"/cases/{ref}/$"))
                worker.fill("#result", "已联系车主挪车，并在通道口加装了禁停标识。")
                worker.locator('[data-testid="resolve"] input[type=file]').set_input_files(result_photo)
                _fits_the_phone(worker)
                worker.screenshot(path=str(ARTIFACTS / "cases-5-handle.png"), full_page=True)
                worker.get_by_test_id("resolve-submit").click()
                worker.wait_for_url(re.compile(rf"/cases/{ref}/$"))
                assert worker.get_by_test_id("case-page").get_attribute("data-status") == "resolved"

                me.goto(f"{server}/cases/mine/")
                assert me.locator(f'[data-ref="{ref}"]').get_attribute("data-status") == "resolved"
                assert me.get_by_test_id("waiting-confirmation").is_visible()
                _fits_the_phone(me)
                me.screenshot(path=str(ARTIFACTS / "cases-6-mine.png"), full_page=True)
                me.locator(f'[data-ref="{ref}"] a.title').click()
                assert "已联系车主挪车" in me.get_by_test_id("result-text").inner_text()
                me.locator("label.rate", has=me.get_by_test_id("rate-5")).click()
                me.fill("#comment", "处理很及时，谢谢！")
                _fits_the_phone(me)
                me.screenshot(path=str(ARTIFACTS / "cases-7-confirm.png"), full_page=True)
                me.get_by_test_id("confirm").click()
                me.wait_for_url(re.compile(rf"/cases/{ref}/$"))
                assert me.get_by_test_id("case-page").get_attribute("data-status") == "closed"
                assert me.get_by_test_id("rating").is_visible()
                kinds = me.locator("[data-testid=timeline] li").evaluate_all("els => els.map(e => e.dataset.kind)")
                assert kinds == ["submitted", "pooled", "grabbed", "accepted", "started", "resolved", "confirmed"]
                _fits_the_phone(me)
                me.screenshot(path=str(ARTIFACTS / "cases-8-closed.png"), full_page=True)
            with tenant_context(district):
                case = Case.objects.get(ref=ref)
                assert case.status == "closed" and case.rating == 5 and case.reporter_id == place.head_user.pk
                assert case.assignee_id == place.worker.pk and case.household_id == place.h1.pk
                assert case.latitude is not None
                assert sorted(Attachment.objects.filter(case=case).values_list("stage", flat=True)) == [
                    "report", "result"]
        finally:
            _cleanup(district, place)


def test_outdoor_code_report_and_contacts_for_a_passer_by(live_server_url, django_db_blocker, settings, tmp_path):
    """Someone walking past scans the plate outside a door: sees report, praise and contact; the
    contacts are masked for them; they report corridor clutter without signing in."""
    import importlib

    from modules.cases import code_actions
    from modules.cases.models import Case

    importlib.reload(code_actions)  # as the app registers them, whatever other suites did before
    with django_db_blocker.unblock():
        district, place = _build(settings, tmp_path)
        try:
            outdoor = issue_all(place)["h1_outdoor"].token
            connection.set_schema_to_public()
            server = live_server_url.format(host="dongsheng.localhost")
            with chromium() as browser:
                page = browser.new_context(viewport=PHONE_VIEWPORT, locale="zh-CN", is_mobile=True, has_touch=True,
                                           device_scale_factor=2).new_page()
                page.goto(f"{server}/c/{outdoor}")
                actions = page.get_by_test_id("code-actions")
                for key in ("report", "praise", "contact"):
                    assert actions.locator(f'[data-action="{key}"]').count() == 1
                page.locator('[data-action="contact"]').click()
                contacts = page.get_by_test_id("contacts").inner_text()
                assert "网格员" in contacts and "13911112222" not in contacts and "****" not in contacts
                assert page.locator('a[href^="tel:"]').count() == 2  # the police's and the property's duty numbers
                _fits_the_phone(page)
                page.screenshot(path=str(ARTIFACTS / "cases-code-contact.png"), full_page=True)
                page.locator('[data-action="report"]').click()
                assert page.get_by_test_id("report-page").get_attribute("data-mode") == "outdoor_report"
                assert place.h1.address in page.get_by_test_id("report-target").inner_text()
                page.locator("label.chip", has_text="楼道堆物").click()
                page.fill("#title", "楼道里堆满纸箱")
                page.fill("#description", "2单元3楼楼道，堵住了一半通道。")
                _fits_the_phone(page)
                page.screenshot(path=str(ARTIFACTS / "cases-code-report.png"), full_page=True)
                page.get_by_test_id("submit").click()
                page.wait_for_url(re.compile(r"/cases/[A-Z0-9]+-\d{8}-\d{4}/\?new=1$"))
                assert page.get_by_test_id("tracking-hint").is_visible()
                ref = page.get_by_test_id("filed-ref").inner_text().strip()
                _fits_the_phone(page)
                page.screenshot(path=str(ARTIFACTS / "cases-code-reported.png"), full_page=True)
                page.goto(f"{server}/cases/mine/")  # this browser keeps its anonymous reports
                assert page.locator(f'[data-ref="{ref}"]').count() == 1
            with tenant_context(district):
                case = Case.objects.get(ref=ref)
                assert case.channel == "outdoor_report" and case.household_id == place.h1.pk
                assert case.reporter_id is None and case.status == "assigned"  # corridor clutter: dispatched
        finally:
            _cleanup(district, place)
