"""Headless Chromium draws the staff pages: at 1280 px a side navigation grouped by module beside a
content column that uses the width; at 360 px the navigation folds behind a menu button and nothing
is wider than the phone. Pages are rendered by the test client in a rolled-back test (no committed
data), then drawn from their HTML (the styles are inline). Screenshots go to test-artifacts/staff-*."""
from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from tests.cases.conftest import world  # noqa: F401 - the cases suite's people and places
from tests.conftest import ARTIFACTS, admin_of, chromium, client_for, needs_chromium

pytestmark = [pytest.mark.browser, needs_chromium, pytest.mark.django_db]
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 860}


def _pages(world) -> dict[str, str]:  # noqa: F811
    from modules.cases import services

    d = world.district
    with tenant_context(d):
        late = services.submit_case(actor=world.reporter, channel="snap", category="parking", title="小区门口乱停车",
                                    household=world.places["h1"], address="青春路 12 号门口",
                                    latitude="39.608500", longitude="109.781200",
                                    now=timezone.now() - dt.timedelta(days=9))
        services.grab_case(actor=world.gw1, case=late)
        services.submit_case(actor=world.reporter, channel="snap", category="parking", title="消防通道被占",
                             household=world.places["h1"])
    connection.set_schema_to_public()
    admin = client_for(d, admin_of(d))
    admin.defaults["HTTP_ACCEPT_LANGUAGE"] = "zh-hans"
    admin.post("/manage/users/", {"action": "add", "username": "li.qiang", "display_name": "李强",
                                  "password": "long-enough-1", "role": "grid_worker", "scope": "grid:G0101"})
    pages = {
        "modules": admin.get("/manage/"),
        "module-off": admin.get("/manage/modules/notices/off/"),
        "config": admin.post("/manage/config/points/", {"mode": "form", "cfg.committee_quorum": "0",
                                                         "cfg.tiers.rows": "1", "cfg.tiers.0.key": "gold",
                                                         "cfg.tiers.0.name_zh": "金牌", "cfg.tiers.0.min_points": "-5"}),
        "users": admin.get("/manage/users/"),
        "audit": admin.get("/manage/audit/"),
        "case": admin.get(f"/cases/{late.ref}/"),
        "codes": admin.get("/codes/"),
        "print-runs": admin.get("/codes/print-runs/"),
        "ledger": admin.get("/registry/ledger/"),
        "rlist": admin.get("/cases/settings/"),
        "figures": admin.get("/cases/figures/"),
        "providers": admin.get("/points/providers/"),
    }
    with tenant_context(d):
        from kernel.models import AuditEntry

        entry = AuditEntry.objects.filter(action="role.assign").latest("id")
    connection.set_schema_to_public()
    pages["audit-entry"] = admin.get(f"/manage/audit/{entry.pk}/")
    worker = client_for(d, world.staff_c1)
    worker.defaults["HTTP_ACCEPT_LANGUAGE"] = "zh-hans"
    pages["bench"] = worker.get("/cases/pool/")
    for name, response in pages.items():
        assert response.status_code in (200, 400), (name, response.status_code)
    return {name: r.content.decode() for name, r in pages.items()}


def test_staff_pages_use_the_desk_width_and_fold_onto_a_phone(world):  # noqa: F811
    pages = _pages(world)
    with chromium() as browser:
        page = browser.new_page(viewport=DESKTOP, locale="zh-CN")
        for name, html in pages.items():
            page.set_viewport_size(DESKTOP)
            page.set_content(html)
            nav = page.get_by_test_id("staff-side-nav")
            assert nav.is_visible(), name
            box = nav.bounding_box()
            assert box["x"] == 0 and 200 <= box["width"] <= 260, (name, box)
            main = page.eval_on_selector("main", "el => el.getBoundingClientRect().width")
            assert main > 1000, (name, main)  # not a 960 px column
            page.screenshot(path=str(ARTIFACTS / f"staff-{name}-1280.png"), full_page=True)

            page.set_viewport_size(PHONE)
            assert not nav.is_visible(), name
            width = page.evaluate("() => document.documentElement.scrollWidth")
            assert width <= PHONE["width"], (name, width)
            page.screenshot(path=str(ARTIFACTS / f"staff-{name}-360.png"), full_page=True)
        # the menu button opens the navigation on the phone, its entries big enough to tap
        page.get_by_test_id("staff-menu-button").click()
        assert nav.is_visible()
        heights = page.eval_on_selector_all("nav.side a", "els => els.map(e => e.getBoundingClientRect().height)")
        assert min(heights) >= 44
        page.screenshot(path=str(ARTIFACTS / "staff-menu-open-360.png"))

    assert "码上解决" in pages["bench"].split('data-testid="staff-side-nav"')[1].split("</nav>")[0]
    side = pages["modules"].split('data-testid="staff-side-nav"')[1].split("</nav>")[0]
    for section in ("码上解决", "品德积分", "五码"):
        assert f">{section}</h4>" in side
    assert 'data-section="settings"' in side and 'aria-current="page"' in side
