"""The staff pages of points through the portal with a signed-in session: propose (or post) points for
a resident of one's area, the committee's queue (maker–checker, quorum, rejection reasons, appeals),
award batches from an uploaded list or a place with their progress endpoint, and the rulebook editor.
Every write goes through the page; each test ends with the ledger check."""
from __future__ import annotations

import csv
import datetime as dt
import io

import openpyxl
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context
from PIL import Image

from modules.points.batches import services as batches
from modules.points.committee import appeals as appeal_services
from modules.points.committee import services as proposals
from modules.points.ledger import services as ledger
from modules.points.models import Balance, Batch, Entry, Proposal, Rule, RuleVersion, Vote
from tests.conftest import client_for, make_user
from tests.points.conftest import assert_ledger_consistent, id_number, today

pytestmark = pytest.mark.django_db

PROPOSE = "/points/staff/propose/"
COMMITTEE = "/points/staff/committee/"
BATCHES = "/points/staff/batches/"
RULES = "/points/staff/rules/"


def web(w, user=None, *, lang: str = "en"):
    """A browser session of ``user`` on Kangbashi, in English (tests read the English text) or Chinese."""
    client = client_for(w.district, user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = lang
    return client


def balance(w, resident) -> int:
    with tenant_context(w.district):
        return Balance.objects.filter(resident=resident, kind="civic").values_list("points", flat=True).first() or 0


def counts(w) -> tuple[int, int, int]:
    with tenant_context(w.district):
        return Proposal.objects.count(), Entry.objects.count(), Batch.objects.count()


def ledger_ok(w) -> None:
    with tenant_context(w.district):
        assert_ledger_consistent()


def png() -> SimpleUploadedFile:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 60, 40)).save(buf, "PNG")
    return SimpleUploadedFile("现场.png", buf.getvalue(), content_type="image/png")


def xlsx(rows: list[list], name: str = "名单.xlsx") -> SimpleUploadedFile:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return SimpleUploadedFile(name, out.getvalue())


def propose_form(w, resident, rule: str, points, **kw) -> dict:
    data = {"resident": resident.pk, "rule": rule, "points": points, "occurred_on": today().isoformat(),
            "reason": "跳河救起落水儿童", "evidence": "派出所证明", "idempotency_key": kw.pop("key", "")}
    data.update(kw)
    return data


def text(response) -> str:
    return response.content.decode()


# --- who may open what --------------------------------------------------------------------------------

def test_roles_and_languages(pw):
    w = pw
    resident = web(w, w.res_user)
    for url in (PROPOSE, COMMITTEE, BATCHES, RULES, f"{RULES}new/", f"{RULES}t_good/"):
        assert resident.get(url).status_code == 403
        assert web(w).get(url).status_code == 302  # sign in first
    staff = web(w, w.staff)
    assert staff.get(PROPOSE).status_code == 200 and staff.get(BATCHES).status_code == 200
    assert staff.get(COMMITTEE).status_code == 403  # not a committee member
    for url in (RULES, f"{RULES}new/", f"{RULES}t_good/"):
        assert staff.get(url).status_code == 403
        assert web(w, w.m1).get(url).status_code == 403
    assert staff.post(f"{RULES}new/", {"code": "x_new", "name_zh": "新", "direction": "add", "category": "c",
                                       "min_points": "1", "max_points": "2"}).status_code == 403
    with tenant_context(w.district):
        assert not Rule.objects.filter(code="x_new").exists()
    # English and Chinese, each page
    admin_en, admin_zh = web(w, w.admin), web(w, w.admin, lang="zh-hans")
    pages = {PROPOSE: "Propose points", COMMITTEE: "Points committee", BATCHES: "Award batches",
             RULES: "Points rulebook", f"{RULES}new/": "New rule", f"{RULES}t_good/": "Save as a new version"}
    for url, english in pages.items():
        en, zh = admin_en.get(url), admin_zh.get(url)
        assert en.status_code == zh.status_code == 200, url
        assert english in text(en) and '<html lang="en"' in text(en)
        assert '<html lang="zh-hans"' in text(zh) and "积分规则" in text(zh)  # the staff nav, in Chinese
    assert "Propose points" in text(web(w, w.gw1).get(PROPOSE))


# --- propose ------------------------------------------------------------------------------------------

def test_search_finds_residents_of_my_area_and_shows_numbers_masked(pw):
    w = pw
    staff = web(w, w.staff)  # community staff of C01

    def search(client, q):
        return text(client.post(PROPOSE, {"action": "search", "q": q}))

    page = search(staff, "张")
    assert "张一" in page and "张二" in page and "王四" not in page  # 王四 lives in C02
    assert "139****5601" in page and "13912345601" not in page and id_number(1) not in page
    assert text(staff.get(PROPOSE, {"q": "张"})).count('data-testid="choose"') == 2  # a name also works as a link
    by_phone = search(staff, "139 1234 5601")
    assert f'data-resident="{w.r1.pk}"' in by_phone and "张二" not in by_phone
    assert "5601" not in by_phone.replace("139****5601", "") and 'data-testid="by-number"' in by_phone
    by_id = search(staff, id_number(3))
    assert "李三" in by_id and id_number(3) not in by_id
    by_address = search(staff, "康和小区 3号楼 301")
    assert "张一" in by_address and "张二" in by_address and "李三" not in by_address
    assert "王四" not in search(staff, id_number(4))  # exact, but outside the area
    assert 'data-testid="no-results"' in search(web(w, w.gw3), "张")
    chosen = text(staff.get(PROPOSE, {"resident": w.r1.pk}))
    assert 'data-testid="propose-form"' in chosen and 'value="t_committee"' in chosen
    assert 'data-testid="propose-form"' not in text(staff.get(PROPOSE, {"resident": w.r4.pk}))


def test_a_proposal_waits_for_two_other_members_then_posts(pw):
    w = pw
    staff = web(w, w.staff)
    data = propose_form(w, w.r1, "t_committee", "30", key="k-1", evidence_file=png())
    response = staff.post(PROPOSE, data, follow=True)
    assert response.status_code == 200 and "Sent to the committee" in text(response)
    with tenant_context(w.district):
        proposal = Proposal.objects.get()
        assert (proposal.status, proposal.points, proposal.resident_id, proposal.proposed_by_id) == (
            "pending", 30, w.r1.pk, w.staff.pk)
        assert proposal.evidence_file.name.endswith(".jpg")  # re-encoded: no location or camera data
    assert balance(w, w.r1) == 0 and counts(w)[1] == 0
    staff.post(PROPOSE, {**data, "evidence_file": png()})  # sent twice: still one proposal
    assert counts(w)[0] == 1
    m1, m2 = web(w, w.m1), web(w, w.m2)
    queue = text(m1.get(COMMITTEE))
    assert f'data-proposal="{proposal.pk}"' in queue and "0 of 2 approvals" in queue and "跳河救起落水儿童" in queue
    assert "139****5601" in queue and "13912345601" not in queue
    evidence = f"/points/staff/evidence/proposal/{proposal.pk}/"
    assert m1.get(evidence).status_code == 200 and m1.get(evidence)["Content-Type"] == "image/jpeg"
    assert web(w, w.gw3).get(evidence).status_code == 403
    assert m1.post(COMMITTEE, {"action": "approve", "proposal": proposal.pk, "note": "属实"}).status_code == 302
    assert balance(w, w.r1) == 0
    page = text(m1.get(COMMITTEE))
    assert 'data-testid="waiting"' in page and "1 of 2 approvals" in page and "属实" in page
    assert f'data-proposal="{proposal.pk}"' not in page.split('data-testid="waiting"')[0]  # not to decide again
    again = m1.post(COMMITTEE, {"action": "approve", "proposal": proposal.pk})
    assert again.status_code == 409 and "already decided" in text(again)
    done = m2.post(COMMITTEE, {"action": "approve", "proposal": proposal.pk}, follow=True)
    assert "approved by the quorum: +30 posted to 张一" in text(done)
    assert balance(w, w.r1) == 30
    with tenant_context(w.district):
        entry = Entry.objects.get()
        assert (entry.source_kind, entry.posted_by_id, entry.approved_by_id, entry.evidence_file.name != "") == (
            "proposal", w.staff.pk, w.m2.pk, True)
    assert "approved" in text(staff.get(PROPOSE))  # the proposer's list shows the outcome
    ledger_ok(w)


def test_the_proposer_cannot_approve_their_own_proposal(pw):
    w = pw
    m1 = web(w, w.m1)
    response = m1.post(PROPOSE, propose_form(w, w.r1, "t_good", "5", to_committee="1", key="own"), follow=True)
    assert "Sent to the committee" in text(response)
    with tenant_context(w.district):
        proposal = Proposal.objects.get()
    page = text(m1.get(COMMITTEE))
    assert f'data-proposal="{proposal.pk}"' in page.split('data-testid="waiting"')[1]  # waiting, not to decide
    refused = m1.post(COMMITTEE, {"action": "approve", "proposal": proposal.pk})
    assert refused.status_code == 403 and "maker–checker" in text(refused)
    assert 'data-testid="item-error"' in text(refused)
    with tenant_context(w.district):
        assert not Vote.objects.exists() and Proposal.objects.get().status == "pending"
    assert balance(w, w.r1) == 0


def test_a_rejection_needs_and_keeps_its_reason(pw):
    w = pw
    web(w, w.staff).post(PROPOSE, propose_form(w, w.r3, "t_committee", "25", key="rej"))
    with tenant_context(w.district):
        proposal = Proposal.objects.get()
    m1 = web(w, w.m1)
    empty = m1.post(COMMITTEE, {"action": "reject", "proposal": proposal.pk, "reason": "  "})
    assert empty.status_code == 400 and "Say why the proposal is rejected." in text(empty)
    with tenant_context(w.district):
        assert Proposal.objects.get().status == "pending" and not Vote.objects.exists()
    m1.post(COMMITTEE, {"action": "reject", "proposal": proposal.pk, "reason": "证据不足，请补充监控"})
    with tenant_context(w.district):
        proposal.refresh_from_db()
        assert (proposal.status, proposal.rejection_reason) == ("rejected", "证据不足，请补充监控")
    assert "证据不足，请补充监控" in text(web(w, w.staff).get(PROPOSE))
    assert counts(w)[1] == 0


def test_a_rule_without_committee_is_posted_at_once_once(pw):
    w = pw
    gw1 = web(w, w.gw1)
    data = propose_form(w, w.r1, "t_good", "5", key="post-1", reason="帮邻居修水管")
    done = gw1.post(PROPOSE, data, follow=True)
    assert "Posted +5 to 张一" in text(done) and "Balance now: 5" in text(done)
    gw1.post(PROPOSE, data)  # the same form twice
    assert balance(w, w.r1) == 5 and counts(w)[:2] == (0, 1)
    # a deduct rule: the form gives the size, the rule the sign
    gw1.post(PROPOSE, propose_form(w, w.r2, "t_litter", "2", key="post-2", reason="乱扔垃圾"))
    assert balance(w, w.r2) == -2
    ledger_ok(w)


def test_bad_input_says_what_to_fix_and_saves_nothing(pw):
    w = pw
    staff = web(w, w.staff)
    cases = [
        (propose_form(w, w.r1, "t_good", "200"), 400, "allows 2 to 100 points", "points-error"),
        (propose_form(w, w.r1, "t_good", "abc"), 400, "whole number", "points-error"),
        (propose_form(w, w.r1, "t_evidence", "2", evidence=""), 400, "needs evidence", "evidence-error"),
        (propose_form(w, w.r1, "t_good", "5", occurred_on=(today() + dt.timedelta(days=2)).isoformat()), 400,
         "in the future", None),
        (propose_form(w, w.r1, "t_good", "5", reason=" "), 400, "Say why", None),
        (propose_form(w, w.r1, "t_good", "5", evidence_file=SimpleUploadedFile("x.jpg", b"not an image")), 400,
         "Attach a photo", None),
        (propose_form(w, w.r1, "no_such_rule", "5"), 400, "no rule no_such_rule", None),
        ({**propose_form(w, w.r1, "t_good", "5"), "resident": ""}, 400, "Find and choose the resident", None),
    ]
    for data, status, message, marker in cases:
        response = staff.post(PROPOSE, data)
        assert response.status_code == status, message
        assert message in text(response)
        if marker:
            assert f'data-testid="{marker}"' in text(response)
    assert counts(w) == (0, 0, 0)


def test_staff_of_another_community_cannot_propose_for_my_residents(pw):
    w = pw
    other = make_user(w.district, "p_staff_c2", "community_staff", "community", "C02")
    client = web(w, other)
    assert f'data-resident="{w.r1.pk}"' not in text(client.post(PROPOSE, {"action": "search", "q": "张一"}))
    for rule, points in (("t_committee", "30"), ("t_good", "5")):
        refused = client.post(PROPOSE, propose_form(w, w.r1, rule, points))
        assert refused.status_code == 403 and "does not live in your area" in text(refused)
        assert 'data-testid="resident-error"' in text(refused)
    assert counts(w) == (0, 0, 0)
    assert client.post(PROPOSE, propose_form(w, w.r4, "t_good", "5")).status_code == 302  # their own resident
    assert balance(w, w.r4) == 5
    ledger_ok(w)


def test_a_proposal_is_withdrawn_from_the_propose_page(pw):
    w = pw
    staff = web(w, w.staff)
    staff.post(PROPOSE, propose_form(w, w.r1, "t_committee", "30", key="wd"))
    with tenant_context(w.district):
        proposal = Proposal.objects.get()
    assert web(w, w.gw1).post(PROPOSE, {"action": "withdraw", "proposal": proposal.pk}).status_code == 403
    staff.post(PROPOSE, {"action": "withdraw", "proposal": proposal.pk})
    with tenant_context(w.district):
        assert Proposal.objects.get().status == "withdrawn"


# --- appeals ------------------------------------------------------------------------------------------

def _deduction_with_appeal(w, reason="那天我不在家"):
    with tenant_context(w.district):
        entry = ledger.post_entry(actor=w.gw1, resident=w.r1, rule="t_litter", points=-3, reason="乱扔垃圾")
        appeal = appeal_services.file_appeal(actor=w.res_user, entry=entry, reason=reason)
    return entry, appeal


def test_an_upheld_appeal_reverses_the_entry(pw):
    w = pw
    entry, appeal = _deduction_with_appeal(w)
    assert balance(w, w.r1) == -3
    m1, m2 = web(w, w.m1), web(w, w.m2)
    page = text(m1.get(COMMITTEE))
    assert f'data-appeal="{appeal.pk}"' in page and "那天我不在家" in page and "0 of 2 approvals" in page
    m1.post(COMMITTEE, {"action": "uphold", "appeal": appeal.pk, "note": "监控显示另有其人"})
    assert balance(w, w.r1) == -3
    done = m2.post(COMMITTEE, {"action": "uphold", "appeal": appeal.pk}, follow=True)
    assert "the entry was reversed" in text(done)
    assert balance(w, w.r1) == 0
    with tenant_context(w.district):
        appeal.refresh_from_db()
        assert appeal.status == "upheld" and appeal.reversal.reverses_id == entry.pk
        assert appeal.reversal.points == 3 and appeal.reversal.source_kind == "appeal"
    ledger_ok(w)


def test_a_refused_appeal_needs_a_reason_and_the_entry_stands(pw):
    w = pw
    _entry, appeal = _deduction_with_appeal(w, reason="我只放了一会儿")
    m3 = web(w, w.m3)
    empty = m3.post(COMMITTEE, {"action": "refuse", "appeal": appeal.pk, "reason": ""})
    assert empty.status_code == 400 and "Say why the appeal is refused." in text(empty)
    m3.post(COMMITTEE, {"action": "refuse", "appeal": appeal.pk, "reason": "网格员现场照片清楚"})
    with tenant_context(w.district):
        appeal.refresh_from_db()
        assert (appeal.status, appeal.decision_reason) == ("refused", "网格员现场照片清楚")
    assert balance(w, w.r1) == -3
    assert f'data-appeal="{appeal.pk}"' not in text(m3.get(COMMITTEE))
    ledger_ok(w)


def test_a_committee_member_of_another_community_does_not_see_my_residents(pw):
    w = pw
    _entry, appeal = _deduction_with_appeal(w)
    web(w, w.staff).post(PROPOSE, propose_form(w, w.r1, "t_committee", "30", key="scope"))
    page = text(web(w, w.m_c2).get(COMMITTEE))
    assert 'data-proposal="' not in page and 'data-appeal="' not in page
    with tenant_context(w.district):
        proposal = Proposal.objects.get()
    refused = web(w, w.m_c2).post(COMMITTEE, {"action": "approve", "proposal": proposal.pk})
    assert refused.status_code == 403 and "outside your committee" in text(refused)


# --- batches ------------------------------------------------------------------------------------------

def batch_form(**kw) -> dict:
    data = {"rule": "t_good", "points": "5", "title": "核酸演练", "reason": "主动参与核酸演练",
            "occurred_on": today().isoformat(), "targets": "file"}
    data.update(kw)
    return data


def test_an_uploaded_list_with_a_bad_row_is_refused_naming_the_row(pw):
    w = pw
    staff = web(w, w.staff)
    good = id_number(5)
    bad_checksum = good[:17] + ("0" if good[17] != "0" else "1")
    response = staff.post(BATCHES, batch_form(file=xlsx([["身份证号", "姓名"], [id_number(1), "张一"],
                                                         [bad_checksum, "张二"], [id_number(3), "李三"]])))
    assert response.status_code == 400
    page = text(response)
    assert "Row 3:" in page and "checksum" in page and "nothing was created" in page
    assert bad_checksum not in page and 'data-testid="row-errors"' in page
    as_number = int(bad_checksum)  # Excel keeps 15 digits of a number
    numeric = staff.post(BATCHES, batch_form(file=xlsx([["身份证号"], [id_number(1)], [as_number]])))
    assert numeric.status_code == 400 and "Row 3: Stored as a number" in text(numeric)
    not_a_list = staff.post(BATCHES, batch_form(file=SimpleUploadedFile("list.pdf", b"%PDF-1.4")))
    assert not_a_list.status_code == 400 and "This is not a spreadsheet" in text(not_a_list)  # kernel.workbooks
    missing = staff.post(BATCHES, batch_form())
    assert missing.status_code == 400 and "Choose the list of ID numbers" in text(missing)
    assert counts(w) == (0, 0, 0)


def test_a_batch_from_a_list_counts_who_was_not_found(pw):
    w = pw
    stranger = id_number(99)  # valid, not registered
    staff = web(w, w.staff)
    response = staff.post(BATCHES, batch_form(
        idempotency_key="b-1",
        file=xlsx([["序号", "身份证号码"], [1, id_number(1)], [2, id_number(2)], [3, stranger], [4, id_number(1)]])),
        follow=True)
    assert response.status_code == 200
    assert "made for 2 residents" in text(response) and "1 listed person was not found" in text(response)
    with tenant_context(w.district):
        batch = Batch.objects.get()
    assert (batch.status, batch.target_count, batch.unknown_count) == ("awaiting", 2, 1)
    page = text(staff.get(f"{BATCHES}{batch.pk}/"))
    assert 'data-testid="unknown-count">1<' in page and stranger not in page
    again = staff.post(BATCHES, batch_form(idempotency_key="b-1", file=xlsx([["身份证号"], [id_number(3)]])))
    assert again.status_code == 302 and again["Location"].endswith(f"/{batch.pk}/")  # sent twice: one batch
    assert counts(w)[2] == 1
    report = staff.get(f"{BATCHES}{batch.pk}/report.csv")
    rows = list(csv.reader(io.StringIO(report.content.decode("utf-8-sig"))))
    assert ["Listed", "3"] in rows and ["Listed but not found", "1"] in rows and ["Found in the registry", "2"] in rows
    assert id_number(1) not in report.content.decode() and stranger not in report.content.decode()
    # a CSV list works the same way
    csv_file = SimpleUploadedFile("list.csv", f"身份证号\n{id_number(3)}\n".encode())
    staff.post(BATCHES, batch_form(idempotency_key="b-2", file=csv_file))
    with tenant_context(w.district):
        assert Batch.objects.order_by("-id").first().target_count == 1
    # the committee sees the batch with its number of residents
    queue = text(web(w, w.m1).get(COMMITTEE))
    assert 'data-kind="batch"' in queue and 'data-testid="target-count">2' in queue


def test_a_batch_of_a_place_runs_and_its_progress_says_done(pw):
    w = pw
    staff = web(w, w.staff)
    response = staff.post(BATCHES, batch_form(targets="place", place_kind="compound", place_compound="X01",
                                              points="3", idempotency_key="p-1"))
    assert response.status_code == 302
    with tenant_context(w.district):
        batch = Batch.objects.get()
        proposal_id = batch.proposal.pk
    assert (batch.status, batch.target_count, batch.target_source) == ("awaiting", 3, "place")  # r1, r2, r3
    progress = f"{BATCHES}{batch.pk}/progress.json"
    assert staff.get(progress).json()["status"] == "awaiting"
    for member in (w.m1, w.m2):
        web(w, member).post(COMMITTEE, {"action": "approve", "proposal": proposal_id})
    state = staff.get(progress).json()
    assert (state["status"], state["active"], state["done"], state["total"]) == ("queued", True, 0, 3)
    with tenant_context(w.district):
        batches.run_batch(batch_id=batch.pk)  # what the Celery task runs
    state = staff.get(progress).json()
    assert (state["status"], state["active"], state["percent"], state["posted"]) == ("done", False, 100.0, 3)
    assert balance(w, w.r1) == balance(w, w.r2) == balance(w, w.r3) == 3 and balance(w, w.r4) == 0
    page = text(staff.get(f"{BATCHES}{batch.pk}/"))
    assert "Everyone living in compound 康和小区" in page and 'data-testid="posted">3<' in page
    assert 'data-poll="' not in page  # finished: nothing to poll
    # scope: a grid worker of C02 may not award a compound of C01, and sees nothing of this batch
    gw3 = web(w, w.gw3)
    refused = gw3.post(BATCHES, batch_form(targets="place", place_kind="compound", place_compound="X01"))
    assert refused.status_code == 403 and "do not live in your area" in text(refused)
    assert gw3.get(f"{BATCHES}{batch.pk}/").status_code == 404 and gw3.get(progress).status_code == 404
    unknown = staff.post(BATCHES, batch_form(targets="place", place_kind="compound", place_compound="NOPE"))
    assert unknown.status_code == 400 and "nothing to award" in text(unknown)
    assert counts(w)[2] == 1
    ledger_ok(w)


def test_a_failed_batch_is_started_again_by_its_maker(pw):
    w = pw
    with tenant_context(w.district):
        batch = batches.create_batch(actor=w.staff, rule="t_good", points=2, reason="志愿服务",
                                     resident_ids=[w.r1.pk, w.r2.pk])
        proposals.approve_proposal(actor=w.m1, proposal=batch.proposal)
        proposals.approve_proposal(actor=w.m2, proposal=batch.proposal)
        Batch.objects.filter(pk=batch.pk).update(status="failed", error="Something went wrong (OperationalError)")
    staff = web(w, w.staff)
    page = text(staff.get(f"{BATCHES}{batch.pk}/"))
    assert "OperationalError" in page and 'data-testid="retry"' in page
    assert web(w, w.m1).post(f"{BATCHES}{batch.pk}/", {"action": "retry"}).status_code == 403  # not the maker
    staff.post(f"{BATCHES}{batch.pk}/", {"action": "retry"})
    with tenant_context(w.district):
        assert Batch.objects.get(pk=batch.pk).status == "queued"
        batches.run_batch(batch_id=batch.pk)
    assert staff.get(f"{BATCHES}{batch.pk}/progress.json").json()["status"] == "done"
    assert balance(w, w.r1) == 2
    ledger_ok(w)


# --- the rulebook -------------------------------------------------------------------------------------

def rule_post(**kw) -> dict:
    data = {"code": "x_clean", "name_zh": "清扫楼道", "name_en": "Sweeping the stairs", "direction": "add",
            "kind": "civic", "category": "environment", "min_points": "1", "max_points": "5", "default_points": "2",
            "origin": "district", "auto_source": "", "cap_period": "", "note": "新增"}
    data.update(kw)
    return data


def test_rules_are_created_and_revised_as_new_versions(pw):
    w = pw
    admin = web(w, w.admin)
    listing = text(admin.get(RULES))
    assert 'data-code="t_good" data-version="1"' in listing
    bad = admin.post(f"{RULES}new/", rule_post(name_zh="", min_points="5", max_points="2", cap_count="3"))
    assert bad.status_code == 400
    page = text(bad)
    for name in ("name_zh", "max_points", "cap_period"):
        assert f'data-error="{name}"' in page, name
    assert "Must be at least the minimum." in page and 'value="Sweeping the stairs"' in page
    with tenant_context(w.district):
        assert not Rule.objects.filter(code="x_clean").exists()
    created = admin.post(f"{RULES}new/", rule_post(), follow=True)
    assert "Rule x_clean created" in text(created)
    taken = admin.post(f"{RULES}new/", rule_post())
    assert taken.status_code == 409 and 'data-error="code"' in text(taken)
    revise = rule_post(max_points="8", default_points="3", committee_required="1", note="提高上限")
    revise.pop("code")
    done = admin.post(f"{RULES}x_clean/", revise, follow=True)
    assert "version 2" in text(done)
    with tenant_context(w.district):
        versions = list(RuleVersion.objects.filter(rule__code="x_clean").order_by("version")
                        .values_list("version", "is_current", "max_points", "committee_required"))
    assert versions == [(1, False, 5, False), (2, True, 8, True)]
    page = text(admin.get(f"{RULES}x_clean/"))
    assert 'data-version="2"' in page and 'data-version="1"' in page and "提高上限" in page
    same = admin.post(f"{RULES}x_clean/", revise, follow=True)
    assert "Nothing changed" in text(same)
    wrong = admin.post(f"{RULES}x_clean/", {**revise, "default_points": "50"})
    assert wrong.status_code == 400 and 'data-error="default_points"' in text(wrong)
    with tenant_context(w.district):
        assert RuleVersion.objects.filter(rule__code="x_clean").count() == 2
    everything = text(admin.get(RULES, {"all": "1"}))
    assert 'data-code="x_clean" data-version="2"' in everything and "the district&#x27;s own" in everything
    assert "Sweeping the stairs" in everything  # the English name on the English page only
    chinese = text(web(w, w.admin, lang="zh-hans").get(RULES))
    assert "清扫楼道" in chinese and "Sweeping the stairs" not in chinese and "<code>x_clean</code>" in chinese
    assert admin.get(f"{RULES}no_such_rule/").status_code == 404


def test_the_administrator_copies_the_kangbashi_rulebook_once(pw):
    from modules.points.ledger.templates_kangbashi import KANGBASHI_RULES

    w = pw
    assert web(w, w.staff).post(f"{RULES}template/").status_code == 403
    with tenant_context(w.district):
        before = set(Rule.objects.values_list("code", flat=True))
    copied = web(w, w.admin).post(f"{RULES}template/", follow=True)
    assert copied.status_code == 200
    with tenant_context(w.district):
        after = set(Rule.objects.values_list("code", flat=True))
        adds = RuleVersion.objects.filter(is_current=True, rule__code__in=[r["code"] for r in KANGBASHI_RULES])
        assert adds.filter(direction="add").count() == 51 and adds.filter(direction="deduct").count() == 33
    template = {r["code"] for r in KANGBASHI_RULES}
    assert after == before | template and f"{len(template - before)} rules copied" in text(copied)
    again = web(w, w.admin).post(f"{RULES}template/", follow=True)
    assert "already here" in text(again)
    copy = next(iter(template - before))  # a version copied from the template says so in words
    assert "Copied from the Kangbashi rulebook" in text(web(w, w.admin).get(f"{RULES}{copy}/"))
    chinese = text(web(w, w.admin, lang="zh-hans").get(f"{RULES}{copy}/"))
    assert "复制自康巴什积分规则" in chinese and "template" not in chinese.split('data-testid="history"')[1]
    with tenant_context(w.district):
        assert Rule.objects.count() == len(after)
