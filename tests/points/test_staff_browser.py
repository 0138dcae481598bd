"""Headless Chromium through the staff pages of points: community staff find a resident of their area
and propose points under a committee rule → two other committee members approve on their phones →
the entry is in the ledger and the resident's balance shows it. Then the administrator makes a batch
for a compound on the batch page; once approved and run, the page's progress bar (polled every 2 s)
turns to done. Every staff page is photographed 360 px and 1280 px wide (test-artifacts/).

Committed data in the "laixi" district, with names unique per run (the ledger is append-only, so
nothing is deleted afterwards)."""
from __future__ import annotations

import re
import secrets

import pytest
from django.db import connection
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from tests.conftest import (
    ARTIFACTS,
    admin_of,
    chromium,
    in_thread,
    make_user,
    needs_chromium,
    sign_in,
)

pytestmark = [pytest.mark.browser, needs_chromium]
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 900}


def _fits_the_phone(page) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width}px wide"


def _shots(page, name: str) -> None:
    """The page at 360 px (checked to fit) and at 1280 px, then back to the phone."""
    page.set_viewport_size(PHONE)
    _fits_the_phone(page)
    page.screenshot(path=str(ARTIFACTS / f"points-staff-{name}-360.png"), full_page=True)
    page.set_viewport_size(DESKTOP)
    page.screenshot(path=str(ARTIFACTS / f"points-staff-{name}-1280.png"), full_page=True)
    page.set_viewport_size(PHONE)


def _world(tag: str):
    from modules.points.ledger import rules as rulebook
    from modules.registry import services as reg
    from tenants.models import District

    connection.set_schema_to_public()
    district = District.objects.get(slug="laixi")
    admin = admin_of(district)
    up = tag.upper()
    staff = make_user(district, f"ps-staff-{tag}", "community_staff", "community", f"{up}C")
    m1 = make_user(district, f"ps-m1-{tag}", "committee_member")
    m2 = make_user(district, f"ps-m2-{tag}", "committee_member")
    with tenant_context(district):
        for user, name in ((staff, "社区干部 刘芳"), (m1, "委员 陈明"), (m2, "委员 高丽")):
            user.display_name = name
            user.save(update_fields=["display_name"])
        street = reg.create_street(actor=admin, code=f"{up}S", name="文昌街道")
        community = reg.create_community(actor=admin, code=f"{up}C", name="和谐社区", street=street)
        grid = reg.create_grid(actor=admin, code=f"{up}G", name="一网格", community=community)
        compound = reg.create_compound(actor=admin, code=f"{up}X", name=f"和谐家园{tag}", grid=grid)
        building = reg.create_building(actor=admin, compound=compound, number="5")
        home = reg.create_household(actor=admin, building=building, unit="1", room="202")
        hero = reg.register_resident(actor=None, name=f"赵勇{tag}", household=home, relation="head",
                                     phone=f"139{secrets.randbelow(10**8):08d}")
        neighbour = reg.register_resident(actor=None, name=f"钱芳{tag}", household=home)
        rulebook.create_rule(actor=admin, code=f"hero_{tag}", name_zh="见义勇为", name_en="Bravery", direction="add",
                             category="courage", min_points=20, max_points=50, default_points=30,
                             committee_required=True, evidence_required=True, origin="report",
                             origin_note="seeds/000: 见义勇为 +20…+50")
        rulebook.create_rule(actor=admin, code=f"drill_{tag}", name_zh="参与核酸演练", name_en="Joined the drill",
                             direction="add", category="community", min_points=5, max_points=5, default_points=5)
    connection.set_schema_to_public()
    return district, admin, staff, m1, m2, hero, neighbour, compound


def test_propose_approve_by_two_members_and_a_batch_with_progress(live_server_url, django_db_blocker):
    from modules.points.batches import services as batches
    from modules.points.committee import services as proposals
    from modules.points.models import Balance, Batch, Entry

    ARTIFACTS.mkdir(exist_ok=True)
    tag = secrets.token_hex(3)
    with django_db_blocker.unblock():
        district, admin, staff, m1, m2, hero, neighbour, compound = _world(tag)
        server = live_server_url.format(host="laixi.localhost")
        phone = dict(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True, device_scale_factor=2)
        with chromium() as browser:
            # 1. community staff find the resident and propose +30 under a committee rule
            page = browser.new_context(**phone).new_page()
            sign_in(page, server, staff.username, "/points/staff/propose/")
            page.get_by_test_id("search-q").fill(f"赵勇{tag}")
            page.get_by_test_id("search").click()
            results = page.get_by_test_id("results")
            assert results.locator(f'[data-resident="{hero.pk}"]').count() == 1
            assert "****" in results.inner_text() and hero.phone[-11:] not in page.content()
            _shots(page, "1-search")
            results.locator(f'[data-resident="{hero.pk}"] [data-testid="choose"]').click()
            page.get_by_test_id("rule").select_option(f"hero_{tag}")
            assert page.get_by_test_id("points").input_value() == "30"  # the rule's default
            assert "20–50" in page.locator("#points-range").inner_text()
            page.get_by_test_id("reason").fill("在河边救起落水儿童")
            page.get_by_test_id("evidence").fill("派出所出具的证明，编号 2024-117")
            _shots(page, "2-propose")
            with page.expect_navigation():
                page.get_by_test_id("submit").click()
            assert re.search(r"/points/staff/propose/$", page.url)
            assert page.locator(".messages .success").count() == 1
            assert page.get_by_test_id("my-proposals").locator('[data-status="pending"]').count() == 1
            _shots(page, "3-proposed")

            # 2. two other members approve on their phones
            for number, member in enumerate((m1, m2), start=1):
                desk = browser.new_context(**phone).new_page()
                sign_in(desk, server, member.username, "/points/staff/committee/")
                card = desk.locator('[data-testid="decide"] [data-testid="proposal"]', has_text=f"赵勇{tag}")
                assert card.count() == 1
                assert card.get_by_test_id("quorum").get_attribute("data-approvals") == str(number - 1)
                if number == 1:
                    _shots(desk, "4-committee")
                with desk.expect_navigation():
                    card.get_by_test_id("approve").click()
                assert desk.locator(".messages .success").count() == 1
            assert "+30" in desk.locator(".messages .success").inner_text()
            _shots(desk, "5-approved")

            # 3. the administrator makes a batch for the compound on the batch page
            boss = browser.new_context(**phone).new_page()
            sign_in(boss, server, "admin", "/points/staff/batches/")
            boss.get_by_test_id("rule").select_option(f"drill_{tag}")
            boss.get_by_test_id("title").fill("核酸演练")
            boss.get_by_test_id("reason").fill("主动参与核酸演练")
            boss.locator('input[name=targets][value=place]').check()
            assert boss.get_by_test_id("file").is_hidden()
            boss.get_by_test_id("place-kind").select_option("compound")
            boss.locator('select[data-place="compound"]').select_option(compound.code)
            _shots(boss, "6-batches")
            boss.get_by_test_id("create").click()
            boss.wait_for_url(re.compile(r"/points/staff/batches/\d+/$"))
            batch_id = int(boss.get_by_test_id("batch-page").get_attribute("data-batch"))
            assert boss.get_by_test_id("target-count").inner_text() == "2"
            assert boss.get_by_test_id("progress").get_attribute("data-status") == "awaiting"

            def approve_it():
                batch = Batch.objects.get(pk=batch_id)
                for member in (m1, m2):
                    proposals.approve_proposal(actor=member, proposal=batch.proposal)

            def run_it():
                batches.run_batch(batch_id=batch_id)  # what the Celery task runs

            in_thread(district, approve_it)
            boss.reload()
            progress = boss.get_by_test_id("progress")
            # queued; or already taken by a Celery worker an earlier test started on this run's queue
            assert progress.get_attribute("data-status") in ("queued", "running", "done")
            assert progress.get_attribute("data-status") == "done" or progress.get_attribute("data-poll")
            in_thread(district, run_it)
            # the page polls the progress every 2 s and reloads once the batch is done
            # (a worker that took the batch counts its postings a moment before it marks the batch done;
            # expect() retries across the page's reload)
            expect(boss.get_by_test_id("progress")).to_have_attribute("data-status", "done", timeout=20_000)
            expect(boss.get_by_test_id("posted")).to_have_text("2", timeout=20_000)
            _shots(boss, "7-batch-done")

            # 4. the rulebook
            boss.goto(f"{server}/points/staff/rules/")
            assert boss.locator(f'[data-code="hero_{tag}"] [data-testid="origin"]').count() == 1
            _shots(boss, "8-rules")
            boss.goto(f"{server}/points/staff/rules/hero_{tag}/")
            _shots(boss, "9-rule")

        with tenant_context(district):
            entry = Entry.objects.get(resident=hero, source_kind="proposal")
            assert (entry.points, entry.posted_by_id, entry.approved_by_id) == (30, staff.pk, m2.pk)
            civic = dict(Balance.objects.filter(resident__in=[hero, neighbour], kind="civic")
                         .values_list("resident_id", "points"))
            assert civic == {hero.pk: 35, neighbour.pk: 5}
            assert Batch.objects.get(pk=batch_id).status == "done"
        connection.set_schema_to_public()
