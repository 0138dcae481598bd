"""Headless Chromium (Playwright) opens a district portal and checks its branding."""
from __future__ import annotations

import shutil
import threading
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(CHROMIUM is None and not __import__("os").environ.get("CI"),
                                 reason="Debian chromium is not installed (CI installs it)")]


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


class ThreadingServer(WSGIServer):
    daemon_threads = True

    def process_request(self, request, client_address):
        threading.Thread(target=self._handle, args=(request, client_address), daemon=True).start()

    def _handle(self, request, client_address):
        try:
            self.finish_request(request, client_address)
        finally:
            self.shutdown_request(request)
            from django.db import connections

            connections.close_all()


@pytest.fixture(scope="module")
def live_server_url(django_db_setup, django_db_blocker):
    """The real WSGI app on 127.0.0.1, reading the committed test districts."""
    server = make_server("127.0.0.1", 0, WSGIHandler(), server_class=ThreadingServer, handler_class=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    with django_db_blocker.unblock():
        thread.start()
        yield f"http://{{host}}:{server.server_port}"
        server.shutdown()


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


def test_portal_shows_the_districts_branding_in_chromium(live_server_url, branded_laixi, django_db_blocker):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    url = live_server_url.format(host="laixi.localhost")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--host-resolver-rules=MAP *.localhost 127.0.0.1"])
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
        browser.close()
