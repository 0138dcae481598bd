"""Headless Chromium at 360 px, the resident's journeys of issue 11: the bottom tab bar and its tap
targets, the personal home, homes that promise only their enabled modules, branded error pages in
Chinese with a way home, the snap report that keeps its photo through a refused form, and the
outdoor code's duty numbers as tap-to-call links. Committed data (build_place), removed afterwards;
screenshots in $RESUX_SHOTS (default test-artifacts/)."""
from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from tests.cases.test_browser import (
    PHONE_VIEWPORT,
    _build,
    _cleanup,
    _fits_the_phone,
    _photo,
    _sign_in_with_phone,
)
from tests.codes.conftest import build_place, destroy_place, issue_all
from tests.conftest import ARTIFACTS, chromium, needs_chromium

pytestmark = [pytest.mark.browser, needs_chromium]
SHOTS = Path(os.environ.get("RESUX_SHOTS") or ARTIFACTS)
PHONE = dict(viewport=PHONE_VIEWPORT, locale="zh-CN", is_mobile=True, has_touch=True, device_scale_factor=2)
MIN_TAP = 44
LATIN_WORD = re.compile(r"[A-Za-z]{3,}")


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _small_targets(page, selector: str) -> list[str]:
    """Links and buttons under ``selector`` smaller than 44x44 px (their bounding boxes)."""
    small = []
    for handle in page.locator(selector).all():
        if not handle.is_visible():
            continue
        box = handle.bounding_box()
        if box["width"] < MIN_TAP or box["height"] < MIN_TAP:
            small.append(f"{handle.inner_text().strip()!r} {box['width']:.0f}x{box['height']:.0f}")
    return small


def _tabs(page) -> list[str]:
    return page.locator('[data-testid="tab-bar"] a').evaluate_all("els => els.map(e => e.dataset.tab)")


def test_tab_bar_home_and_promises_follow_the_enabled_modules(live_server_url):
    with chromium() as browser:
        page = browser.new_context(**PHONE).new_page()
        page.goto(live_server_url.format(host="kangbashi.localhost") + "/")
        assert _tabs(page) == ["home", "cases", "me"]  # no inbox here: no 消息 tab
        assert page.locator('[data-testid="tab-bar"] a[data-tab="home"]').get_attribute("aria-current") == "page"
        assert "首页" in page.get_by_test_id("tab-bar").inner_text()
        assert _small_targets(page, "header a, header button, [data-testid=tab-bar] a") == []
        tiles = page.get_by_test_id("module-nav").bounding_box()
        assert tiles is not None  # the tiles live on the home page only
        _fits_the_phone(page)
        _shot(page, "home-kangbashi")
        page.locator('[data-testid="tab-bar"] a[data-tab="cases"]').click()
        page.wait_for_url(re.compile(r"/cases/report/$"))
        assert page.get_by_test_id("module-nav").count() == 0  # no tiles above the form
        assert page.locator('[data-testid="tab-bar"] a[data-tab="cases"]').get_attribute("aria-current") == "page"
        header = page.locator("header.brand").bounding_box()
        form_top = page.get_by_test_id("report-form").bounding_box()["y"]
        assert header["height"] <= 64 and form_top < 300  # the form starts near the top of a 740 px screen
        _shot(page, "report-kangbashi")

        page.goto(live_server_url.format(host="dongsheng.localhost") + "/")  # points off
        promise = page.get_by_test_id("promise").inner_text()
        assert "随手拍" in promise and "积分" not in promise
        assert "积分" not in page.get_by_test_id("welcome").inner_text()
        _shot(page, "home-dongsheng")

        page.goto(live_server_url.format(host="laixi.localhost") + "/")  # cases off
        promise = page.get_by_test_id("promise").inner_text()
        assert "积分" in promise and "随手拍" not in promise
        assert _tabs(page) == ["home", "me"]
        _shot(page, "home-laixi")


def test_a_signed_in_resident_gets_a_personal_home(live_server_url, django_db_blocker, settings, tmp_path):
    with django_db_blocker.unblock():
        district, place = _build(settings, tmp_path)  # dongsheng: cases on, points off
        try:
            server = live_server_url.format(host="dongsheng.localhost")
            with chromium() as browser:
                page = browser.new_context(**PHONE).new_page()
                _sign_in_with_phone(page, server, "/")
                figures = page.get_by_test_id("my-figures")
                assert figures.locator('[data-figure="open_cases"]').count() == 1
                assert figures.locator('[data-figure="points"]').count() == 0  # points are off here
                page.locator('[data-testid="tab-bar"] a[data-tab="me"]').click()
                page.wait_for_url(re.compile(r"/me/$"))
                assert page.get_by_test_id("me-page").is_visible()
                assert page.locator('[data-testid="tab-bar"] a[data-tab="me"]').get_attribute("aria-current") == "page"
                assert _small_targets(page, "[data-testid=my-figures] a, [data-testid=tab-bar] a") == []
                _fits_the_phone(page)
                _shot(page, "me-dongsheng")
        finally:
            _cleanup(district, place)


def test_error_pages_are_branded_chinese_and_lead_home(live_server_url):
    with chromium() as browser:
        page = browser.new_context(**PHONE).new_page()
        server = live_server_url.format(host="kangbashi.localhost")
        response = page.goto(server + "/no-such-page/")
        assert response.status == 404
        assert page.get_by_test_id("error-title").inner_text() == "页面不存在"
        assert page.eval_on_selector("html", "el => el.lang") == "zh-hans"
        assert page.eval_on_selector("[data-testid=error-brand]", "el => getComputedStyle(el).backgroundColor") == \
            "rgb(198, 40, 40)"  # the district's primary colour
        assert not LATIN_WORD.search(page.inner_text("[data-testid=error-page]"))  # (the test district's name is Latin)
        assert _small_targets(page, "[data-testid=error-home]") == []
        _shot(page, "error-404")
        page.get_by_test_id("error-home").click()
        page.wait_for_url(server + "/")
        assert page.get_by_test_id("tab-bar").is_visible()

        response = page.goto(live_server_url.format(host="dongsheng.localhost") + "/points/")  # module off
        assert response.status == 404
        assert page.get_by_test_id("error-title").inner_text() == "本区暂未开通此服务"
        assert "品德积分" in page.get_by_test_id("error-detail").inner_text()
        assert page.get_by_test_id("error-home").is_visible()
        assert not LATIN_WORD.search(page.inner_text("[data-testid=error-page]"))
        _shot(page, "error-module-off")


def test_snap_report_keeps_the_photo_through_a_refused_form(live_server_url, django_db_blocker, settings, tmp_path):
    from modules.cases.models import Attachment, Case

    photo = _photo(tmp_path / "clutter.jpg", (200, 60, 40))
    with django_db_blocker.unblock():
        district, place = _build(settings, tmp_path)
        try:
            server = live_server_url.format(host="dongsheng.localhost")
            with chromium() as browser:
                page = browser.new_context(**PHONE).new_page()
                _sign_in_with_phone(page, server, "/cases/report/")
                page.fill("#title", "楼道里堆满了纸箱")
                page.locator("#files").set_input_files(photo)
                page.get_by_test_id("submit").click()  # no category: said at once, nothing sent
                assert page.get_by_test_id("category-missing").is_visible()
                assert page.url.endswith("/cases/report/")
                assert page.eval_on_selector("#files", "el => el.files.length") == 1  # the photo is still there
                _shot(page, "report-1-category-missing")
                # the form goes with a kind the server no longer offers (changed meanwhile): refused
                page.locator("label.chip").first.click()
                page.eval_on_selector('input[name="category"]:checked', "el => { el.value = 'withdrawn'; }")
                page.get_by_test_id("submit").click()
                page.get_by_test_id("kept-files").wait_for()
                assert page.get_by_test_id("category-missing").is_visible()
                kept = page.locator('[data-testid="kept-files"] img')
                assert kept.count() == 1
                page.wait_for_function("() => [...document.querySelectorAll('[data-testid=kept-files] img')]"
                                       ".every(i => i.complete && i.naturalWidth > 0)")  # shown again
                assert page.input_value("#title") == "楼道里堆满了纸箱"
                _fits_the_phone(page)
                _shot(page, "report-2-refused-photo-kept")
                page.locator("label.chip").first.click()
                page.get_by_test_id("submit").click()
                page.wait_for_url(re.compile(r"/cases/[A-Z0-9]+-\d{8}-\d{4}/\?new=1$"))
                assert page.locator('[data-testid="photos"] img').count() == 1
                _shot(page, "report-3-filed-with-photo")
            connection.set_schema_to_public()
            with tenant_context(district):
                case = Case.objects.get(reporter=place.head_user)
                assert Attachment.objects.filter(case=case, stage="report").count() == 1
            connection.set_schema_to_public()
        finally:
            _cleanup(district, place)


def test_outdoor_code_contacts_are_duty_numbers_to_tap(live_server_url, django_db_blocker):
    from modules.registry.models import Grid
    from tenants.models import District

    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        district = District.objects.get(slug="dongsheng")
        place = build_place(district, prefix="Q" + secrets.token_hex(3).upper())
        try:
            with tenant_context(district):
                Grid.objects.filter(pk=place.grid.pk).update(duty_phone="0477-8512345")
            connection.set_schema_to_public()
            token = issue_all(place)["h1_outdoor"].token
            server = live_server_url.format(host="dongsheng.localhost")
            with chromium() as browser:
                page = browser.new_context(**PHONE).new_page()  # a passer-by, not signed in
                page.goto(f"{server}/cases/code/{token}/contact/")
                links = page.locator('[data-testid="contacts"] a[href^="tel:"]')
                hrefs = links.evaluate_all("els => els.map(e => e.getAttribute('href'))")
                assert hrefs == ["tel:+864778512345", "tel:+8613912345678", "tel:+8613812345678"]
                assert "****" not in page.inner_text("body")
                assert _small_targets(page, '[data-testid="contacts"] a[href^="tel:"]') == []
                assert page.locator('[data-contact="grid_worker"] a[href^="tel:"]').count() == 1
                _fits_the_phone(page)
                _shot(page, "outdoor-contacts")
                page.goto(f"{server}/c/{token}")  # the code's landing lists them the same way
                assert page.locator('[data-testid="contacts"] a[href^="tel:"]').count() == 3
                _shot(page, "outdoor-landing")
        finally:
            destroy_place(place)
            connection.set_schema_to_public()
