"""The resident's points pages: balance, honour tier and progress, the history (reason, source, who
approved, reversal marks, paging), the appeal of an entry (own entries only, within appeal_days, one
open appeal, nothing half-saved), the resident's appeals with the committee's decision, an account
not bound to a resident, anonymous visitors and a district with points off. Through the Django test
client on the district's host; pages are Chinese unless the language cookie says English."""
from __future__ import annotations

import datetime as dt
import re
import secrets

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django_tenants.utils import tenant_context

from modules.points.batches import services as batches
from modules.points.committee import appeals as appeal_services
from modules.points.committee import selectors as committee_selectors
from modules.points.committee import services as proposals
from modules.points.ledger import reports
from modules.points.ledger import rules as rulebook
from modules.points.ledger import services as ledger
from modules.points.models import Appeal, Balance, Entry
from tests.conftest import ARTIFACTS, PASSWORD, admin_of, chromium, client_for, make_user, needs_chromium
from tests.points.conftest import assert_ledger_consistent, set_points_config, today

# Every test but the browser one asks for ``pw`` (and so for the rolled-back ``db``); the browser test
# commits its data in the "worker" district, where the live server can read it.

TIERS = [{"key": "civil", "name_zh": "文明居民", "name_en": "Civil resident", "min_points": 10},
         {"key": "good", "name_zh": "身边好人", "name_en": "Good neighbour", "min_points": 100}]


# --- helpers ------------------------------------------------------------------------------------------

def english(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def resident_client(w, *, lang: str = "zh"):
    client = client_for(w.district, w.res_user)
    return english(client) if lang == "en" else client


def html_of(response) -> str:
    return response.content.decode()


def entry_block(html: str, entry_id: int) -> str:
    """The <li> of one entry in the history."""
    match = re.search(rf'<li class="entry[^"]*" id="e-{entry_id}".*?</li>', html, re.S)
    assert match, f"entry {entry_id} is not on the page"
    return match.group(0)


def post(w, resident=None, rule="t_good", points=5, reason="扶老人过马路", actor=None, **kw) -> Entry:
    with tenant_context(w.district):
        entry = ledger.post_entry(actor=actor or w.staff, resident=resident or w.r1, rule=rule, points=points,
                                    reason=reason, **kw)
    connection.set_schema_to_public()
    return entry


def old_entry(w, *, days_ago: int, points: int = 4, reason: str = "去年的好事") -> Entry:
    """An entry posted ``days_ago`` days ago: inserted with that posting time and added to the balance the
    way ``ledger._post`` does (the ledger check after the test proves the balance still adds up)."""
    with tenant_context(w.district), transaction.atomic():
        version = ledger.current_version("t_good")
        ledger.lock_balances([(w.r1.pk, version.kind)])
        entry = Entry(resident_id=w.r1.pk, rule_id=version.rule_id, rule_version=version, kind=version.kind,
                      points=points, occurred_on=today() - dt.timedelta(days=days_ago), reason=reason,
                      source_kind="manual", posted_by=w.staff,
                      posted_at=timezone.now() - dt.timedelta(days=days_ago), idempotency_key=f"test-old:{days_ago}")
        entry.save()
        Balance.objects.filter(resident_id=w.r1.pk, kind=version.kind).update(
            points=F("points") + points, entries=F("entries") + 1)
    connection.set_schema_to_public()
    return entry


def appeals_in(w, **filters) -> list[Appeal]:
    with tenant_context(w.district):
        rows = list(Appeal.objects.filter(**filters).order_by("id"))
    connection.set_schema_to_public()
    return rows


def error_text(response) -> str:
    match = re.search(r'data-testid="appeal-error"[^>]*>(.*?)</div>', html_of(response), re.S)
    return match.group(1).strip() if match else ""


@pytest.fixture
def ledger_checked(pw):
    yield pw
    with tenant_context(pw.district):
        assert_ledger_consistent()
    connection.set_schema_to_public()


# --- who may see the pages ------------------------------------------------------------------------------

def test_anonymous_visitors_are_sent_to_sign_in(pw):
    client = client_for(pw.district)
    for url in ("/points/", "/points/appeals/", "/points/entries/1/appeal/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/?next=/points/"), url
    assert client.post("/points/entries/1/appeal/", {"reason": "x"}).status_code == 302
    assert not appeals_in(pw)


def test_the_pages_are_404_where_the_district_has_points_off(pw, dongsheng):
    someone = make_user(dongsheng, "p_dong_res", "resident")
    client = client_for(dongsheng, someone)
    for url in ("/points/", "/points/appeals/", "/points/entries/1/appeal/"):
        assert client.get(url).status_code == 404, url
    assert client.post("/points/entries/1/appeal/", {"reason": "x"}).status_code == 404


def test_an_account_not_bound_to_a_resident_is_told_how_to_bind(pw):
    stranger = make_user(pw.district, "p_unbound", "resident")
    client = client_for(pw.district, stranger)
    for url in ("/points/", "/points/appeals/", "/points/entries/1/appeal/"):
        response = client.get(url)
        html = html_of(response)
        assert response.status_code == 200 and 'data-testid="points-unbound"' in html, url
        assert 'href="/registry/me/"' in html and 'data-testid="bind-link"' in html
    en = english(client_for(pw.district, stranger)).get("/points/")
    assert "not linked to a registered resident" in html_of(en) and "scan the household code" in html_of(en)
    assert client.post("/points/entries/1/appeal/", {"reason": "我不服"}).status_code == 200
    assert not appeals_in(pw)


# --- balance, tier, history -----------------------------------------------------------------------------

def test_the_balance_tier_and_history_explain_every_entry(ledger_checked):
    from modules.cases import services as cases

    w = ledger_checked
    with tenant_context(w.district):
        set_points_config(tiers=TIERS)
    good = post(w, points=20, reason="扶老人过马路")
    litter = post(w, rule="t_litter", points=-3, reason="乱扔垃圾", actor=w.gw1)
    with tenant_context(w.district):
        correction = ledger.reverse_entry(actor=w.m1, entry=litter, reason="认错了人")
        proposal = proposals.propose(actor=w.staff, resident=w.r1, rule="t_committee", points=30,
                                    reason="跳河救起落水儿童", evidence="派出所证明")
        proposals.approve_proposal(actor=w.m1, proposal=proposal)
        proposals.approve_proposal(actor=w.m2, proposal=proposal)
        proposal.refresh_from_db()
        set_points_config(batch_needs_committee=False)

        batch = batches.create_batch(actor=w.staff, rule="t_good", points=5, reason="主动参与核酸演练",
                                     title="核酸演练2024", resident_ids=[w.r1.pk, w.r2.pk], background=False)
        case = cases.submit_case(actor=w.res_user, channel="snap", category="corridor_clutter", title="楼道堆物",
                                 household=w.places["h1"])
        done = reports.award_verified_report(payload={
            "case_id": case.pk, "channel": "snap", "category": "corridor_clutter", "reporter_user_id": w.res_user.pk,
            "reporter_household_id": w.places["h1"].pk, "offender_household_id": None,
            "praised_household_id": None})
        assert done["posted"] == 1
        case_entry = Entry.objects.get(source_kind="case", source_id=case.pk)
        batch_entry = Entry.objects.get(source_kind="batch", source_id=batch.pk, resident=w.r1)
        expected = 20 - 3 + 3 + 30 + 5 + case_entry.points
    connection.set_schema_to_public()

    response = resident_client(w).get("/points/")
    html = html_of(response)
    assert response.status_code == 200 and '<html lang="zh-hans">' in html
    assert f'data-testid="civic-balance">{expected}</div>' in html
    assert "文明居民" in html  # the tier reached (58 ≥ 10)
    assert 'data-testid="material-balance"' not in html  # material points are off
    assert f"{100 - expected}" in re.search(r'data-testid="to-next">(.*?)</div>', html, re.S).group(1)
    assert "身边好人" in html and 'aria-valuenow="' in html
    assert html.count('data-testid="entry"') == 6
    # newest first
    ids = [int(i) for i in re.findall(r'data-testid="entry" data-entry="(\d+)"', html)]
    assert ids == sorted(ids, reverse=True)

    manual = entry_block(html, good.pk)
    assert "好人好事" in manual and "+20" in manual and "扶老人过马路" in manual and "p_staff" in manual
    assert 'data-testid="appeal-link"' in manual and f'href="/points/entries/{good.pk}/appeal/"' in manual
    struck = entry_block(html, litter.pk)
    assert 'class="entry struck"' in struck and 'data-testid="reversed-mark"' in struck and f"#{correction.pk}" in struck
    assert 'data-testid="appeal-link"' not in struck  # already reversed
    fix = entry_block(html, correction.pk)
    assert 'data-testid="reverses-mark"' in fix and f'href="#e-{litter.pk}"' in fix and "+3" in fix
    assert 'data-testid="appeal-link"' not in fix  # a correction is not appealed
    committee = entry_block(html, proposal.entry_id)
    assert "见义勇为" in committee and "+30" in committee and "p_m2" in committee and "p_staff" in committee
    batch_row = entry_block(html, batch_entry.pk)
    assert "核酸演练2024" in batch_row and "+5" in batch_row
    case_row = entry_block(html, case_entry.pk)
    assert f'href="/cases/{case.ref}/"' in case_row and case.ref in case_row  # the reporter sees their case


def test_english_and_the_material_balance(ledger_checked):
    w = ledger_checked
    with tenant_context(w.district):
        set_points_config(tiers=TIERS, material_points=True)
        rulebook.revise_rule(actor=w.admin, rule="t_good", name_en="Good deed")
    post(w, points=12)
    post(w, rule="t_material", points=3, reason="积分兑换")
    html = html_of(resident_client(w, lang="en").get("/points/"))
    assert '<html lang="en">' in html
    assert "My points" in html and "Civil resident" in html and "Good neighbour" in html
    assert "88 more points to Good neighbour" in html
    assert 'data-testid="civic-balance">12</div>' in html and "Material points: <b>3</b>" in html
    assert "Good deed" in html and "Posted by p_staff" in html and ">Appeal</a>" in html
    assert "material points" in html  # the tag on the material entry
    assert "you can appeal it within 30 days" in html


def test_no_tier_yet_and_an_empty_history(pw):
    html = html_of(english(client_for(pw.district, pw.res_user)).get("/points/"))
    assert 'data-testid="civic-balance">0</div>' in html and "No honour tier yet" in html
    assert "100 more points to Bronze" in html  # the default tiers
    assert 'data-testid="entry"' not in html and "No points yet" in html


def test_the_history_is_paged_by_twenty(ledger_checked):
    w = ledger_checked
    with tenant_context(w.district):
        for i in range(25):
            ledger.post_entry(actor=w.staff, resident=w.r1, rule="t_good", points=2, reason=f"第{i}件好事")
    connection.set_schema_to_public()
    client = resident_client(w)
    first = html_of(client.get("/points/"))
    assert first.count('data-testid="entry"') == 20 and "第24件好事" in first and "第4件好事" not in first
    assert 'href="?page=2"' in first and "1 / 2" in first
    second = html_of(client.get("/points/?page=2"))
    assert second.count('data-testid="entry"') == 5 and "第4件好事" in second and "第0件好事" in second
    assert html_of(client.get("/points/?page=99")).count('data-testid="entry"') == 5  # the last page
    assert "第24件好事" in html_of(client.get("/points/?page=abc"))  # junk: the first page


# --- appeals ---------------------------------------------------------------------------------------------

def test_an_appeal_reaches_the_committee(ledger_checked):
    w = ledger_checked
    entry = post(w, rule="t_litter", points=-2, reason="乱扔垃圾", actor=w.gw1)
    client = resident_client(w)
    form = client.get(f"/points/entries/{entry.pk}/appeal/")
    html = html_of(form)
    assert form.status_code == 200 and 'data-testid="appeal-form"' in html and "乱扔垃圾" in html
    assert 'name="reason"' in html and 'maxlength="2000"' in html and "csrfmiddlewaretoken" in html
    response = client.post(f"/points/entries/{entry.pk}/appeal/", {"reason": "那天我不在家，是邻居扔的"})
    assert response.status_code == 302 and response["Location"] == "/points/appeals/"
    [appeal] = appeals_in(w)
    assert (appeal.entry_id, appeal.resident_id, appeal.filed_by_id, appeal.status, appeal.reason) == (
        entry.pk, w.r1.pk, w.res_user.pk, "pending", "那天我不在家，是邻居扔的")
    with tenant_context(w.district):
        assert appeal.pk in [a.pk for a in committee_selectors.pending_appeals()]  # the committee's queue
    connection.set_schema_to_public()
    listing = client.get(response["Location"])
    text = html_of(listing)
    assert listing.status_code == 200 and f'data-appeal="{appeal.pk}" data-status="pending"' in text
    assert "那天我不在家，是邻居扔的" in text and "待委员会审批" in text  # status in Chinese
    assert '<p class="success">' in text  # the message after the redirect
    row = entry_block(html_of(client.get("/points/")), entry.pk)
    assert 'data-testid="appeal-status"' in row and 'data-testid="appeal-link"' not in row


def test_a_second_appeal_of_the_same_entry_is_refused(ledger_checked):
    w = ledger_checked
    entry = post(w, rule="t_litter", points=-1, reason="乱扔垃圾", actor=w.gw1)
    client = english(resident_client(w))
    assert client.post(f"/points/entries/{entry.pk}/appeal/", {"reason": "不是我"}).status_code == 302
    again = client.post(f"/points/entries/{entry.pk}/appeal/", {"reason": "真的不是我"})
    assert again.status_code == 409
    assert error_text(again) == "This entry already has an appeal waiting for the committee."
    assert 'data-testid="appeal-form"' not in html_of(again)  # nothing more to send
    assert [a.reason for a in appeals_in(w)] == ["不是我"]
    shown = client.get(f"/points/entries/{entry.pk}/appeal/")
    assert 'data-testid="appeal-closed"' in html_of(shown) and 'data-testid="earlier-appeals"' in html_of(shown)


def test_another_residents_entry_is_not_found(ledger_checked):
    w = ledger_checked
    theirs = post(w, resident=w.r3, rule="t_litter", points=-1, reason="乱扔垃圾", actor=w.staff)
    client = resident_client(w)
    assert client.get(f"/points/entries/{theirs.pk}/appeal/").status_code == 404
    assert client.post(f"/points/entries/{theirs.pk}/appeal/", {"reason": "我替他申诉"}).status_code == 404
    assert client.get("/points/entries/987654321/appeal/").status_code == 404
    assert client.get(f"/points/entries/{'9' * 30}/appeal/").status_code == 404  # beyond bigint
    assert not appeals_in(w)


def test_appeals_are_refused_after_appeal_days(ledger_checked):
    w = ledger_checked
    old = old_entry(w, days_ago=31)
    recent = old_entry(w, days_ago=29)
    client = resident_client(w)
    html = html_of(client.get("/points/"))
    assert 'data-testid="appeal-link"' not in entry_block(html, old.pk)
    assert 'data-testid="appeal-link"' in entry_block(html, recent.pk)
    shown = html_of(client.get(f"/points/entries/{old.pk}/appeal/"))
    assert 'data-testid="appeal-closed"' in shown and "记分后 30 天内可以申诉" in shown  # Chinese message
    response = english(client).post(f"/points/entries/{old.pk}/appeal/", {"reason": "现在才知道"})
    assert response.status_code == 409
    assert error_text(response) == "Appeals are possible for 30 days after an entry is posted."
    assert not appeals_in(w)
    with tenant_context(w.district):
        set_points_config(appeal_days=60)  # the window comes from the configuration
    connection.set_schema_to_public()
    assert client.post(f"/points/entries/{old.pk}/appeal/", {"reason": "现在才知道"}).status_code == 302
    assert [a.entry_id for a in appeals_in(w)] == [old.pk]


def test_a_missing_or_too_long_reason_keeps_the_form_and_saves_nothing(ledger_checked):
    w = ledger_checked
    entry = post(w, rule="t_litter", points=-1, reason="乱扔垃圾", actor=w.gw1)
    client = english(resident_client(w))
    empty = client.post(f"/points/entries/{entry.pk}/appeal/", {"reason": "   "})
    assert empty.status_code == 400 and error_text(empty) == "Say why you disagree."
    assert 'data-testid="appeal-form"' in html_of(empty)
    long = client.post(f"/points/entries/{entry.pk}/appeal/", {"reason": "长" * 2001})
    assert long.status_code == 400 and error_text(long) == "At most 2000 characters."
    assert "长" * 2001 in html_of(long)  # what was typed is kept
    assert not appeals_in(w)


def test_a_correction_cannot_be_appealed(ledger_checked):
    w = ledger_checked
    entry = post(w, rule="t_litter", points=-2, reason="乱扔垃圾", actor=w.gw1)
    with tenant_context(w.district):
        correction = ledger.reverse_entry(actor=w.m1, entry=entry, reason="认错了人")
    connection.set_schema_to_public()
    client = english(resident_client(w))
    for target in (entry, correction):
        response = client.post(f"/points/entries/{target.pk}/appeal/", {"reason": "再看看"})
        assert response.status_code == 409 and error_text(response)
    assert not appeals_in(w)


def test_my_appeals_show_the_committees_decision(ledger_checked):
    w = ledger_checked
    refused_entry = post(w, rule="t_litter", points=-1, reason="乱扔垃圾", actor=w.gw1)
    upheld_entry = post(w, rule="t_litter", points=-3, reason="楼道堆物", actor=w.gw1)
    client = resident_client(w)
    for entry, reason in ((refused_entry, "不是我扔的"), (upheld_entry, "东西是物业的")):
        assert client.post(f"/points/entries/{entry.pk}/appeal/", {"reason": reason}).status_code == 302
    with tenant_context(w.district):
        refused, upheld = Appeal.objects.order_by("id")
        appeal_services.refuse_appeal(actor=w.m1, appeal=refused, reason="监控显示是本人")
        appeal_services.uphold_appeal(actor=w.m1, appeal=upheld, note="核实属实")
        upheld = appeal_services.uphold_appeal(actor=w.m2, appeal=upheld, note="核实属实")
    connection.set_schema_to_public()
    html = html_of(english(client).get("/points/appeals/"))
    assert f'data-appeal="{refused.pk}" data-status="refused"' in html and "监控显示是本人" in html
    assert f'data-appeal="{upheld.pk}" data-status="upheld"' in html and f"Reversed by #{upheld.reversal_id} (+3)" in html
    assert "upheld: the entry was reversed" in html
    history = html_of(client.get("/points/"))
    assert 'data-testid="reversed-mark"' in entry_block(history, upheld_entry.pk)
    reversal = entry_block(history, upheld.reversal_id)
    assert 'href="/points/appeals/"' in reversal and "+3" in reversal
    # after a refusal the entry may be appealed once more within the window (one open appeal at a time)
    assert 'data-testid="appeal-link"' in entry_block(history, refused_entry.pk)


def test_no_appeals_yet(pw):
    html = html_of(english(client_for(pw.district, pw.res_user)).get("/points/appeals/"))
    assert 'data-testid="no-appeals"' in html and "You have not appealed any entry." in html


# --- on a phone -------------------------------------------------------------------------------------------

PHONE_VIEWPORT = {"width": 360, "height": 740}


def _fits_the_phone(page) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE_VIEWPORT["width"], f"{page.url} is {width}px wide"


@pytest.mark.browser
@needs_chromium
def test_points_on_a_phone(live_server_url, django_db_blocker):
    """A resident opens /points/ on a 360 px phone, appeals a deduction and sees it waiting. Committed
    in the "worker" district (ledger rows are never deleted, so names are unique per run);
    screenshots in test-artifacts/points-resident-*.png."""
    from modules.registry import services as registry
    from modules.registry.models import Resident
    from tenants.models import District

    tag = secrets.token_hex(3)
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        district = District.objects.get(slug="worker")
        admin = admin_of(district)
        user = make_user(district, f"pres-{tag}", "resident")
        member = make_user(district, f"pmem-{tag}", "committee_member")
        with tenant_context(district):
            resident = Resident.objects.create(name="张小明")
            registry.link_account(actor=None, resident=resident, user=user)
            rulebook.create_rule(actor=admin, code=f"t_help_{tag}", name_zh="好人好事", name_en="Good deed",
                                 direction="add", category="civility", min_points=1, max_points=200, default_points=5)
            rulebook.create_rule(actor=admin, code=f"t_litter_{tag}", name_zh="乱扔垃圾", name_en="Littering",
                                 direction="deduct", category="civility", min_points=1, max_points=5, default_points=1)
            ledger.post_entry(actor=admin, resident=resident, rule=f"t_help_{tag}", points=120,
                                reason="扶摔倒的老人回家，并陪同就医")
            wrong = ledger.post_entry(actor=admin, resident=resident, rule=f"t_litter_{tag}", points=-2,
                                        reason="乱扔垃圾（3号楼东侧）")
            ledger.reverse_entry(actor=member, entry=wrong, reason="认错了人，监控显示是路人")
            ledger.post_entry(actor=admin, resident=resident, rule=f"t_help_{tag}", points=10,
                                reason="志愿服务：清扫楼道")
            disputed = ledger.post_entry(actor=admin, resident=resident, rule=f"t_litter_{tag}", points=-1,
                                           reason="楼道堆放纸箱")
        connection.set_schema_to_public()

        server = live_server_url.format(host="worker.localhost")
        with chromium() as browser:
            page = browser.new_context(viewport=PHONE_VIEWPORT, locale="zh-CN", is_mobile=True, has_touch=True,
                                       device_scale_factor=2).new_page()
            page.goto(f"{server}/login/?next=/points/")
            page.click("details summary")
            page.fill('input[name="username"]', user.username)
            page.fill('input[name="password"]', PASSWORD)
            page.click('button[value="password"]')
            page.wait_for_url(re.compile(r"/points/$"))
            assert page.get_by_test_id("civic-balance").inner_text().strip() == "129"
            assert page.get_by_test_id("entry").count() == 5
            assert page.locator(f'#e-{wrong.pk} [data-testid="reversed-mark"]').is_visible()
            _fits_the_phone(page)
            page.screenshot(path=str(ARTIFACTS / "points-resident-1-home.png"), full_page=True)
            page.locator(f'#e-{disputed.pk} [data-testid="appeal-link"]').click()
            page.wait_for_url(re.compile(rf"/points/entries/{disputed.pk}/appeal/$"))
            page.fill("#reason", "纸箱是物业临时放的，不是我家的。")
            _fits_the_phone(page)
            page.screenshot(path=str(ARTIFACTS / "points-resident-2-appeal.png"), full_page=True)
            page.get_by_test_id("appeal-submit").click()
            page.wait_for_url(re.compile(r"/points/appeals/$"))
            assert page.get_by_test_id("appeal").get_attribute("data-status") == "pending"
            _fits_the_phone(page)
            page.screenshot(path=str(ARTIFACTS / "points-resident-3-appeals.png"), full_page=True)
        with tenant_context(district):
            [appeal] = Appeal.objects.filter(resident=resident)
            assert (appeal.entry_id, appeal.status, appeal.filed_by_id) == (disputed.pk, "pending", user.pk)
            assert_ledger_consistent()
        connection.set_schema_to_public()


@pytest.mark.browser
@needs_chromium
def test_a_streetlight_report_on_the_residents_phone(live_server_url, django_db_blocker):
    """The reporter of a streetlight (路灯不亮) opens /points/ on a 360 px phone: the entry says what they
    reported, with the case's reference, never "举报不文明行为属实". Committed in the "worker" district;
    screenshot test-artifacts/points-report-streetlight.png."""
    from modules.registry import services as registry
    from modules.registry.models import Resident
    from tenants.models import District

    tag = secrets.token_hex(3)
    case_id = 900_000_000 + secrets.randbelow(10**8)
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        district = District.objects.get(slug="worker")
        user = make_user(district, f"prep-{tag}", "resident")
        with tenant_context(district):
            rulebook.seed(template="default")  # the rules a district with points starts from
            resident = Resident.objects.create(name="赵路灯")
            registry.link_account(actor=None, resident=resident, user=user)
            reports.award_verified_report(payload={
                "case_id": case_id, "ref": f"WRK-20261207-{tag}", "channel": "snap", "category": "facility_damage",
                "reporter_user_id": user.pk, "reporter_household_id": None})
        connection.set_schema_to_public()
        server = live_server_url.format(host="worker.localhost")
        with chromium() as browser:
            page = browser.new_context(viewport=PHONE_VIEWPORT, locale="zh-CN", is_mobile=True, has_touch=True,
                                       device_scale_factor=2).new_page()
            page.goto(f"{server}/login/?next=/points/")
            page.click("details summary")
            page.fill('input[name="username"]', user.username)
            page.fill('input[name="password"]', PASSWORD)
            page.click('button[value="password"]')
            page.wait_for_url(re.compile(r"^[^?]*/points/$"))  # not the sign-in page's ?next=/points/
            entry = page.get_by_test_id("entry")
            assert entry.count() == 1
            text = entry.inner_text()
            assert "反映公共设施、环境问题属实" in text and f"WRK-20261207-{tag}" in text and "不文明" not in text
            _fits_the_phone(page)
            page.screenshot(path=str(ARTIFACTS / "points-report-streetlight.png"), full_page=True)
