"""The write API of the points module: the rulebook, posting (idempotent) and reversing, proposals and
votes, appeals, batches (JSON lists and uploaded spreadsheets), with roles and scopes checked by the
services, errors in the one shape, nothing half-saved, paginated lists and a valid schema."""
import csv
import io

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from kernel.errors import DomainError
from modules.points.batches import files as batch_files
from modules.points.batches import services as batches
from modules.points.ledger import services as ledger
from modules.points.models import Appeal, Balance, Batch, Entry, Proposal, RuleVersion
from tests.conftest import client_for
from tests.points.conftest import assert_ledger_consistent, id_number

pytestmark = pytest.mark.django_db


def api(w, user):
    return client_for(w.district, user)


def post(client, url, data=None, **kw):
    return client.post(url, data or {}, format=kw.pop("fmt", "json"), **kw)


def counts(w) -> tuple[int, int, int, int]:
    with tenant_context(w.district):
        return (Entry.objects.count(), Proposal.objects.count(), Batch.objects.count(), Appeal.objects.count())


def balance(w, resident) -> int:
    with tenant_context(w.district):
        row = Balance.objects.filter(resident=resident, kind="civic").first()
        return row.points if row else 0


def ledger_ok(w) -> None:
    with tenant_context(w.district):
        assert_ledger_consistent()


def error(response, status: int) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and body["error"]["message"]
    return body["error"]


# --- rules ----------------------------------------------------------------------------------------------

RULE = {"code": "api_tidy", "name_zh": "楼道整洁", "name_en": "Tidy corridor", "direction": "add",
        "category": "environment", "min_points": 1, "max_points": 5, "default_points": 2,
        "cap_period": "month", "cap_count": 4, "note": "社区议事会通过"}


def test_the_administrator_writes_the_rulebook_with_versions(pw):
    w = pw
    admin = api(w, w.admin)
    created = post(admin, "/api/v1/points/rules/", RULE)
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["code"] == "api_tidy" and body["current"]["version"] == 1 and len(body["versions"]) == 1
    assert body["current"]["note"] == "社区议事会通过" and body["current"]["created_by"] == "admin"
    revised = post(admin, "/api/v1/points/rules/api_tidy/revise/", {"max_points": 8, "note": "提高上限"})
    assert revised.status_code == 201
    body = revised.json()
    assert body["current"]["version"] == 2 and body["current"]["max_points"] == 8
    assert body["current"]["cap_count"] == 4 and body["current"]["name_zh"] == "楼道整洁"  # unchanged fields kept
    assert [v["version"] for v in body["versions"]] == [2, 1] and body["versions"][1]["max_points"] == 5
    same = post(admin, "/api/v1/points/rules/api_tidy/revise/", {"max_points": 8})
    assert same.status_code == 200 and len(same.json()["versions"]) == 2
    detail = api(w, w.res_user).get("/api/v1/points/rules/api_tidy/")  # anyone signed in reads the rulebook
    assert detail.status_code == 200 and detail.json()["current"]["version"] == 2
    error(api(w, w.res_user).get("/api/v1/points/rules/no_such_rule/"), 404)
    error(post(admin, "/api/v1/points/rules/no_such_rule/revise/", {"max_points": 3}), 404)


def test_only_the_administrator_edits_rules_and_bad_rules_are_refused_whole(pw):
    w = pw
    with tenant_context(w.district):
        before = (RuleVersion.objects.count(), RuleVersion.objects.filter(rule__code="t_good", is_current=True).get().pk)
    for user in (w.staff, w.m1, w.res_user):
        err = error(post(api(w, user), "/api/v1/points/rules/", {**RULE, "code": "api_staff"}), 403)
        assert err["code"] == "forbidden"
        error(post(api(w, user), "/api/v1/points/rules/t_good/revise/", {"max_points": 3}), 403)
    admin = api(w, w.admin)
    bad = error(post(admin, "/api/v1/points/rules/", {**RULE, "min_points": 6}), 400)
    assert "max_points" in bad["fields"]
    assert "cap_period" in error(post(admin, "/api/v1/points/rules/", {**RULE, "cap_period": ""}), 400)["fields"]
    assert "code" in error(post(admin, "/api/v1/points/rules/", {**RULE, "code": "带中文"}), 400)["fields"]
    assert "min_points" in error(post(admin, "/api/v1/points/rules/", {**RULE, "min_points": "x"}), 400)["fields"]
    assert error(post(admin, "/api/v1/points/rules/", {**RULE, "code": "t_good"}), 409)["code"] == "conflict"
    bad = error(post(admin, "/api/v1/points/rules/t_good/revise/", {"min_points": 500}), 400)
    assert "max_points" in bad["fields"] or "default_points" in bad["fields"]
    with tenant_context(w.district):
        assert RuleVersion.objects.count() == before[0]  # nothing half-saved
        assert RuleVersion.objects.filter(rule__code="t_good", is_current=True).get().pk == before[1]


# --- entries --------------------------------------------------------------------------------------------

def test_posting_is_idempotent_by_field_or_header(pw):
    w = pw
    staff = api(w, w.staff)
    data = {"resident": w.r1.pk, "rule": "t_good", "points": 10, "reason": "扶老人过马路",
            "occurred_on": "2020-01-01", "idempotency_key": "app-42"}
    first = post(staff, "/api/v1/points/entries/", data)
    assert first.status_code == 201, first.content
    entry = first.json()
    assert (entry["points"], entry["rule"], entry["posted_by"], entry["source_kind"], entry["resident_name"]) == (
        10, "t_good", "p_staff", "manual", "张一")
    again = post(staff, "/api/v1/points/entries/", data)
    assert again.status_code == 200 and again.json()["id"] == entry["id"]
    assert balance(w, w.r1) == 10
    header = {"resident": w.r3.pk, "rule": "t_litter", "points": -2, "reason": "乱扔垃圾"}
    one = post(staff, "/api/v1/points/entries/", header, HTTP_IDEMPOTENCY_KEY="hdr-1")
    two = post(staff, "/api/v1/points/entries/", header, HTTP_IDEMPOTENCY_KEY="hdr-1")
    assert (one.status_code, two.status_code) == (201, 200) and one.json()["id"] == two.json()["id"]
    assert balance(w, w.r3) == -2
    conflict = error(post(staff, "/api/v1/points/entries/", {**data, "points": 11}), 409)
    assert conflict["code"] == "idempotency_key_reused"
    no_key = [post(staff, "/api/v1/points/entries/", {**header, "points": -1}) for _ in range(2)]
    assert [r.status_code for r in no_key] == [201, 201]  # without a key, two postings
    assert counts(w)[0] == 4 and balance(w, w.r3) == -4
    ledger_ok(w)


def test_posting_checks_role_scope_and_rule_and_saves_nothing_on_refusal(pw):
    w = pw
    url = "/api/v1/points/entries/"
    ok = {"resident": w.r1.pk, "rule": "t_good", "points": 5, "reason": "好人好事"}
    cases = [
        (w.res_user, ok, 403, "permission_denied"),  # a resident holds no staff role
        (w.gw1, {**ok, "resident": w.r4.pk}, 403, "out_of_scope"),  # G0101's worker, a C02 resident
        (w.staff, {**ok, "rule": "t_committee", "points": 30, "evidence": "通报"}, 403, "committee_required"),
        (w.staff, {**ok, "points": -5}, 400, "wrong_sign"),
        (w.staff, {**ok, "points": 500}, 400, "out_of_range"),
        (w.staff, {**ok, "rule": "t_evidence", "points": 2}, 400, "evidence_required"),
        (w.staff, {**ok, "rule": "nope"}, 400, "unknown_rule"),
        (w.staff, {**ok, "resident": 999_999_999}, 400, "unknown_resident"),
        (w.staff, {**ok, "occurred_on": "2999-01-01"}, 400, "future_date"),
        (w.staff, {**ok, "reason": ""}, 400, "invalid"),
        (w.staff, {**ok, "points": "many"}, 400, "invalid"),
    ]
    for user, data, status, code in cases:
        err = error(post(api(w, user), url, data), status)
        assert err["code"] == code, (data, err)
    with tenant_context(w.district):
        from kernel.roles import Role
        from kernel.services import assign_role

        assign_role(actor=None, user=w.res_user, role=Role.GRID_WORKER, scope_kind="grid", scope_code="G0101")
    assert error(post(api(w, w.res_user), url, ok), 403)["code"] == "own_points"
    assert counts(w) == (0, 0, 0, 0)
    daily = {"resident": w.r2.pk, "rule": "t_daily", "points": 1, "reason": "每日签到"}
    assert post(api(w, w.gw1), url, daily).status_code == 201
    assert error(post(api(w, w.gw1), url, daily), 409)["code"] == "cap_reached"
    assert counts(w)[0] == 1
    ledger_ok(w)


def test_evidence_file_upload(pw, settings, tmp_path):
    w = pw
    settings.MEDIA_ROOT = tmp_path
    from PIL import Image

    image = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(image, "JPEG")
    photo = SimpleUploadedFile("证明.jpg", image.getvalue(), content_type="image/jpeg")
    response = post(api(w, w.staff), "/api/v1/points/entries/", {
        "resident": w.r1.pk, "rule": "t_evidence", "points": 3, "reason": "见证", "evidence_file": photo},
        fmt="multipart")
    assert response.status_code == 201, response.content
    entry_id = response.json()["id"]
    assert response.json()["evidence_file"] == f"/points/staff/evidence/entry/{entry_id}/"  # never the media address
    with tenant_context(w.district):
        stored = Entry.objects.get(pk=entry_id).evidence_file.name
    assert stored.startswith("points/evidence/") and "证明" not in stored
    big = SimpleUploadedFile("big.jpg", b"x" * (10 * 2**20 + 1), content_type="image/jpeg")
    err = error(post(api(w, w.staff), "/api/v1/points/entries/", {
        "resident": w.r1.pk, "rule": "t_evidence", "points": 3, "reason": "见证", "evidence_file": big},
        fmt="multipart"), 400)
    assert "evidence_file" in err["fields"]
    junk = SimpleUploadedFile("x.jpg", b"MZ not a photo", content_type="image/jpeg")
    err = error(post(api(w, w.staff), "/api/v1/points/entries/", {
        "resident": w.r1.pk, "rule": "t_evidence", "points": 3, "reason": "见证", "evidence_file": junk},
        fmt="multipart"), 400)
    assert "evidence_file" in err["fields"] and counts(w)[0] == 1
    ledger_ok(w)


def test_staff_list_entries_of_their_area_with_filters(pw):
    w = pw
    with tenant_context(w.district):
        ledger.post_entry(actor=w.admin, resident=w.r1, rule="t_good", points=5, reason="a", occurred_on="2024-03-01")
        ledger.post_entry(actor=w.admin, resident=w.r2, rule="t_litter", points=-1, reason="b",
                            occurred_on="2024-04-01")
        ledger.post_entry(actor=w.admin, resident=w.r3, rule="t_good", points=7, reason="c")
        ledger.post_entry(actor=w.admin, resident=w.r4, rule="t_good", points=9, reason="d")
    everyone = api(w, w.m1).get("/api/v1/points/entries/").json()
    assert set(everyone) == {"count", "next", "previous", "results"} and everyone["count"] == 4
    assert [e["reason"] for e in everyone["results"]] == ["d", "c", "b", "a"]  # newest first
    grid = api(w, w.gw1).get("/api/v1/points/entries/").json()  # G0101: h1 (r1, r2)
    assert {e["resident"] for e in grid["results"]} == {w.r1.pk, w.r2.pk}
    c2 = api(w, w.m_c2).get("/api/v1/points/entries/").json()  # committee of community C02: r4
    assert [e["resident"] for e in c2["results"]] == [w.r4.pk]
    staff = api(w, w.staff)
    assert staff.get(f"/api/v1/points/entries/?resident={w.r1.pk}").json()["count"] == 1
    assert staff.get("/api/v1/points/entries/?rule=t_good").json()["count"] == 2  # C01: r1, r3
    assert staff.get("/api/v1/points/entries/?source_kind=manual&occurred_from=2024-03-15&occurred_to=2024-04-30"
                     ).json()["count"] == 1
    assert staff.get("/api/v1/points/entries/?page_size=1").json()["next"]
    assert "occurred_from" in error(staff.get("/api/v1/points/entries/?occurred_from=yesterday"), 400)["fields"]
    error(api(w, w.res_user).get("/api/v1/points/entries/"), 403)
    with tenant_context(w.district):
        r4_entry = Entry.objects.get(resident=w.r4)
    error(api(w, w.gw1).get(f"/api/v1/points/entries/{r4_entry.pk}/"), 404)
    assert api(w, w.m1).get(f"/api/v1/points/entries/{r4_entry.pk}/").json()["points"] == 9


def test_reversing_an_entry(pw):
    w = pw
    with tenant_context(w.district):
        entry = ledger.post_entry(actor=w.staff, resident=w.r1, rule="t_good", points=20, reason="事迹")
    url = f"/api/v1/points/entries/{entry.pk}/reverse/"
    assert error(post(api(w, w.m1), url, {}), 400)["fields"]["reason"]
    assert error(post(api(w, w.staff), url, {"reason": "录错了"}), 403)["code"] == "forbidden"  # not committee
    first = post(api(w, w.m1), url, {"reason": "事迹不实"})
    assert first.status_code == 201 and first.json()["points"] == -20 and first.json()["reverses"] == entry.pk
    again = post(api(w, w.m2), url, {"reason": "事迹不实"})
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert api(w, w.m1).get(f"/api/v1/points/entries/{entry.pk}/").json()["reversed"] is True
    err = error(post(api(w, w.admin), f"/api/v1/points/entries/{first.json()['id']}/reverse/", {"reason": "x"}), 409)
    assert err["code"] == "is_reversal"
    assert balance(w, w.r1) == 0 and counts(w)[0] == 2
    ledger_ok(w)


# --- proposals --------------------------------------------------------------------------------------------

def test_the_committee_decides_proposals(pw):
    w = pw
    data = {"resident": w.r1.pk, "rule": "t_committee", "points": 30, "reason": "见义勇为", "evidence": "派出所通报",
            "idempotency_key": "p-1"}
    made = post(api(w, w.staff), "/api/v1/points/proposals/", data)
    assert made.status_code == 201, made.content
    pid = made.json()["id"]
    assert (made.json()["status"], made.json()["quorum"], made.json()["approvals"]) == ("pending", 2, 0)
    assert post(api(w, w.staff), "/api/v1/points/proposals/", data).json()["id"] == pid  # same key
    assert post(api(w, w.staff), "/api/v1/points/proposals/", data).status_code == 200
    queue = api(w, w.m1).get("/api/v1/points/proposals/?status=pending&to_decide=true").json()
    assert [p["id"] for p in queue["results"]] == [pid]
    assert api(w, w.staff).get("/api/v1/points/proposals/?to_decide=true").json()["count"] == 0  # own proposal
    assert error(post(api(w, w.staff), f"/api/v1/points/proposals/{pid}/approve/"), 403)["code"] == "not_committee"
    error(api(w, w.m_c2).get(f"/api/v1/points/proposals/{pid}/"), 404)  # r1 is outside C02
    one = post(api(w, w.m1), f"/api/v1/points/proposals/{pid}/approve/", {"note": "属实"})
    assert one.status_code == 200 and one.json()["approvals"] == 1 and one.json()["status"] == "pending"
    assert error(post(api(w, w.m1), f"/api/v1/points/proposals/{pid}/approve/"), 409)["code"] == "already_voted"
    assert api(w, w.m1).get("/api/v1/points/proposals/?to_decide=true").json()["count"] == 0
    done = post(api(w, w.m2), f"/api/v1/points/proposals/{pid}/approve/").json()
    assert done["status"] == "approved" and done["entry"] and [v["member"] for v in done["votes"]] == ["p_m1", "p_m2"]
    assert balance(w, w.r1) == 30
    assert error(post(api(w, w.m3), f"/api/v1/points/proposals/{pid}/reject/", {"reason": "晚了"}), 409)[
        "code"] == "already_decided"
    assert api(w, w.m1).get("/api/v1/points/proposals/?status=approved").json()["count"] == 1
    ledger_ok(w)


def test_rejecting_needs_a_reason_and_the_proposer_withdraws(pw):
    w = pw
    base = {"resident": w.r3.pk, "rule": "t_drunk", "points": -50, "reason": "酒驾", "evidence": "交警通报"}
    pid = post(api(w, w.staff), "/api/v1/points/proposals/", base).json()["id"]
    assert "reason" in error(post(api(w, w.m1), f"/api/v1/points/proposals/{pid}/reject/", {}), 400)["fields"]
    assert "reason" in error(post(api(w, w.m1), f"/api/v1/points/proposals/{pid}/reject/", {"reason": " "}), 400)[
        "fields"]
    rejected = post(api(w, w.m1), f"/api/v1/points/proposals/{pid}/reject/", {"reason": "证据不足"}).json()
    assert (rejected["status"], rejected["rejection_reason"]) == ("rejected", "证据不足")
    other = post(api(w, w.staff), "/api/v1/points/proposals/", base).json()["id"]
    assert error(post(api(w, w.gw1), f"/api/v1/points/proposals/{other}/withdraw/"), 404)  # r3 is not in G0101
    assert error(post(api(w, w.m1), f"/api/v1/points/proposals/{other}/withdraw/"), 403)["code"] == "forbidden"
    assert post(api(w, w.staff), f"/api/v1/points/proposals/{other}/withdraw/").json()["status"] == "withdrawn"
    bad = error(post(api(w, w.staff), "/api/v1/points/proposals/", {**base, "points": 50}), 400)
    assert bad["code"] == "wrong_sign"
    assert counts(w) == (0, 2, 0, 0) and balance(w, w.r3) == 0


# --- appeals ----------------------------------------------------------------------------------------------

def test_a_resident_appeals_and_the_committee_decides(pw):
    w = pw
    with tenant_context(w.district):
        litter = ledger.post_entry(actor=w.staff, resident=w.r1, rule="t_litter", points=-3, reason="乱扔垃圾")
        other = ledger.post_entry(actor=w.staff, resident=w.r1, rule="t_litter", points=-2, reason="又乱扔")
        not_mine = ledger.post_entry(actor=w.staff, resident=w.r3, rule="t_litter", points=-1, reason="乱扔")
    me = api(w, w.res_user)
    assert error(post(me, "/api/v1/points/appeals/", {"entry": not_mine.pk, "reason": "不是我"}), 403)
    assert "reason" in error(post(me, "/api/v1/points/appeals/", {"entry": litter.pk}), 400)["fields"]
    assert "entry" in error(post(me, "/api/v1/points/appeals/", {"entry": 999_999, "reason": "x"}), 400)["fields"]
    filed = post(me, "/api/v1/points/appeals/", {"entry": litter.pk, "reason": "那天我不在家"})
    assert filed.status_code == 201 and filed.json()["status"] == "pending" and filed.json()["entry"]["points"] == -3
    aid = filed.json()["id"]
    assert error(post(me, "/api/v1/points/appeals/", {"entry": litter.pk, "reason": "再申诉"}), 409)["code"] == (
        "appeal_open")
    second = post(me, "/api/v1/points/appeals/", {"entry": other.pk, "reason": "没有证据"}).json()["id"]
    assert {a["id"] for a in me.get("/api/v1/points/appeals/").json()["results"]} == {aid, second}
    queue = api(w, w.m1).get("/api/v1/points/appeals/?status=pending").json()
    assert queue["count"] == 2
    assert api(w, w.m_c2).get("/api/v1/points/appeals/").json()["count"] == 0  # r1 lives outside C02
    assert api(w, w.gw3).get("/api/v1/points/appeals/").json()["count"] == 0  # staff, but no committee
    assert error(post(me, f"/api/v1/points/appeals/{aid}/uphold/"), 403)["code"] == "not_committee"
    assert "reason" in error(post(api(w, w.m1), f"/api/v1/points/appeals/{aid}/refuse/", {}), 400)["fields"]
    refused = post(api(w, w.m1), f"/api/v1/points/appeals/{aid}/refuse/", {"reason": "有监控为证"}).json()
    assert (refused["status"], refused["decision_reason"]) == ("refused", "有监控为证")
    assert post(api(w, w.m1), f"/api/v1/points/appeals/{second}/uphold/", {"note": "同意"}).json()["status"] == (
        "pending")
    upheld = post(api(w, w.m2), f"/api/v1/points/appeals/{second}/uphold/").json()
    assert upheld["status"] == "upheld" and upheld["reversal"] and len(upheld["votes"]) == 2
    mine = me.get(f"/api/v1/points/appeals/{second}/").json()
    assert mine["status"] == "upheld" and mine["votes"] == []  # who voted is for staff
    assert error(post(api(w, w.m3), f"/api/v1/points/appeals/{aid}/uphold/"), 409)["code"] == "already_decided"
    assert balance(w, w.r1) == -3
    ledger_ok(w)


# --- batches ----------------------------------------------------------------------------------------------

def workbook(rows) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_batches_from_lists_and_places_with_progress(pw):
    w = pw
    staff = api(w, w.staff)
    base = {"rule": "t_good", "points": 5, "reason": "消防应急演练", "title": "消防演练 全员+5"}
    made = post(staff, "/api/v1/points/batches/", {**base, "resident_ids": [w.r1.pk, w.r3.pk, 999_999]})
    assert made.status_code == 201, made.content
    b = made.json()
    assert (b["status"], b["target_count"], b["unknown_count"], b["file"]) == ("awaiting", 2, 1, None)
    assert b["proposal"] and b["progress"]["percent"] == 0.0
    by_number = post(staff, "/api/v1/points/batches/", {**base, "id_numbers": [id_number(1), id_number(2), "123"]})
    assert by_number.json()["target_count"] == 2 and by_number.json()["target_params"] == {"listed": 3}
    place = post(staff, "/api/v1/points/batches/", {**base, "place": {"kind": "grid", "code": "G0101"}}).json()
    assert place["target_count"] == 2 and place["target_source"] == "place"
    # scope and choice of residents are checked; a refused batch leaves nothing behind
    before = counts(w)
    assert error(post(api(w, w.gw1), "/api/v1/points/batches/", {**base, "resident_ids": [w.r4.pk]}), 403)[
        "code"] == "out_of_scope"
    assert "targets" in error(post(staff, "/api/v1/points/batches/", base), 400)["fields"]
    assert "targets" in error(post(staff, "/api/v1/points/batches/", {
        **base, "resident_ids": [w.r1.pk], "place": {"kind": "grid", "code": "G0101"}}), 400)["fields"]
    assert error(post(staff, "/api/v1/points/batches/", {**base, "resident_ids": [999_999]}), 400)["code"] == (
        "no_targets")
    assert error(post(staff, "/api/v1/points/batches/", {**base, "points": -5, "resident_ids": [w.r1.pk]}), 400)[
        "code"] == "wrong_sign"
    error(post(api(w, w.res_user), "/api/v1/points/batches/", {**base, "resident_ids": [w.r1.pk]}), 403)
    assert counts(w) == before
    # the committee approves; the batch runs (here in this process) and its progress shows
    for member in (w.m1, w.m2):
        assert post(api(w, member), f"/api/v1/points/proposals/{b['proposal']}/approve/").status_code == 200
    with tenant_context(w.district):

        batches.run_batch(batch_id=b["id"])
    detail = staff.get(f"/api/v1/points/batches/{b['id']}/").json()
    assert detail["status"] == "done" and detail["progress"] == {
        "status": "done", "done": 2, "total": 2, "percent": 100.0, "posted": 2, "skipped": 0, "unknown": 1,
        "sms_sent": 0, "sms_failed": 0}
    assert detail["approved_by"] == "p_m2"
    listed = staff.get("/api/v1/points/batches/?status=awaiting").json()
    assert listed["count"] == 2 and {x["id"] for x in listed["results"]} == {by_number.json()["id"], place["id"]}
    assert api(w, w.gw3).get("/api/v1/points/batches/").json()["count"] == 0  # C02's worker: none of theirs
    error(api(w, w.gw3).get(f"/api/v1/points/batches/{b['id']}/"), 404)
    assert balance(w, w.r1) == 5 and balance(w, w.r3) == 5
    ledger_ok(w)


def test_a_batch_from_an_uploaded_spreadsheet(pw):
    w = pw
    staff = api(w, w.staff)
    data = workbook([["康和社区 消防演练签到表"], ["序号", "姓名", "公民身份号码(18位)"], [1, "张一", id_number(1)],
                     [2, "李三", id_number(3).lower()], [3, "重复", id_number(1)], [4, "错号", "150602198001010000"],
                     [5, "数字", 150602198001011234], [6, "空", None]])
    upload = SimpleUploadedFile("签到表.xlsx", data)
    made = post(staff, "/api/v1/points/batches/", {"rule": "t_good", "points": 5, "reason": "消防应急演练",
                                                   "file": upload}, fmt="multipart")
    assert made.status_code == 201, made.content
    body = made.json()
    assert body["target_count"] == 2 and body["target_source"] == "id_numbers" and body["status"] == "awaiting"
    f = body["file"]
    assert (f["rows"], f["valid"], f["duplicates"], f["invalid"], f["column"]) == (5, 2, 1, 2, "公民身份号码(18位)")
    assert [p["row"] for p in f["problems"]] == [6, 7] and "15 digits" in f["problems"][1]["problem"]
    assert id_number(1) not in made.content.decode()  # the numbers never come back
    # a CSV in GB18030 without a header
    text = "\r\n".join([id_number(2), id_number(3)]).encode("gb18030")
    csv_made = post(staff, "/api/v1/points/batches/", {"rule": "t_good", "points": 5, "reason": "演练",
                                                       "file": SimpleUploadedFile("名单.csv", text)}, fmt="multipart")
    assert csv_made.status_code == 201 and csv_made.json()["target_count"] == 2
    before = counts(w)
    for name, content, code in [("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"0" * 100, "unsupported_file"),
                                ("broken.xlsx", b"not a zip", "unreadable_file"),
                                ("names.csv", "姓名\r\n张一\r\n".encode(), "no_id_column"),
                                ("bad.csv", "身份证号\r\n123\r\n".encode(), "no_valid_numbers")]:
        err = error(post(staff, "/api/v1/points/batches/", {"rule": "t_good", "points": 5, "reason": "演练",
                                                            "file": SimpleUploadedFile(name, content)},
                         fmt="multipart"), 400)
        assert err["code"] == code and "file" in err["fields"]
    both = error(post(staff, "/api/v1/points/batches/", {"rule": "t_good", "points": 5, "reason": "演练",
                                                         "id_numbers": [id_number(1)],
                                                         "file": SimpleUploadedFile("a.csv", id_number(1).encode())},
                      fmt="multipart"), 400)
    assert "file" in both["fields"]
    assert counts(w) == before


def test_retrying_a_failed_batch(pw):
    w = pw
    with tenant_context(w.district):

        batch = batches.create_batch(actor=w.staff, rule="t_good", points=2, reason="志愿服务",
                                     resident_ids=[w.r1.pk], background=False)
        Batch.objects.filter(pk=batch.pk).update(status="failed", error="boom")
    assert error(post(api(w, w.gw1), f"/api/v1/points/batches/{batch.pk}/retry/"), 403)["code"] == "forbidden"
    retried = post(api(w, w.staff), f"/api/v1/points/batches/{batch.pk}/retry/")
    assert retried.status_code == 200 and retried.json()["status"] == "queued" and retried.json()["error"] == ""
    assert error(post(api(w, w.staff), f"/api/v1/points/batches/{batch.pk}/retry/"), 409)["code"] == "wrong_status"


def test_reading_id_numbers_from_files():
    rows = batch_files.read_id_numbers(workbook([[id_number(5)], [" " + id_number(6) + " "], ["x"]]), "a.xlsx")
    assert rows.numbers == [id_number(5), id_number(6)] and rows.invalid == 1 and rows.column == ""
    bom = ("\ufeff身份证号,姓名\r\n" + id_number(7) + ",王\r\n").encode("utf-8")
    assert batch_files.read_id_numbers(bom, "b.csv").numbers == [id_number(7)]
    utf16 = ("证件号码\t姓名\r\n" + id_number(8) + "\t李\r\n").encode("utf-16")
    assert batch_files.read_id_numbers(utf16, "c.txt").numbers == [id_number(8)]
    out = io.StringIO()
    csv.writer(out).writerows([["ID number"], [id_number(9)]])
    assert batch_files.read_id_numbers(out.getvalue().encode(), "d.csv").numbers == [id_number(9)]
    for data in (b"", b"\x00\x01\x02\x03 binary junk"):
        with pytest.raises(DomainError):
            batch_files.read_id_numbers(data, "e.csv")


# --- schema -----------------------------------------------------------------------------------------------

def test_the_schema_documents_every_points_endpoint(pw):
    from drf_spectacular.validation import validate_schema

    schema = client_for(pw.district).get("/api/schema/", HTTP_ACCEPT="application/json").json()
    validate_schema(schema)
    paths = schema["paths"]
    for path, methods in {
        "/api/v1/points/rules/": {"get", "post"}, "/api/v1/points/rules/{code}/": {"get"},
        "/api/v1/points/rules/{code}/revise/": {"post"}, "/api/v1/points/entries/": {"get", "post"},
        "/api/v1/points/entries/{id}/reverse/": {"post"}, "/api/v1/points/proposals/": {"get", "post"},
        "/api/v1/points/proposals/{id}/": {"get"}, "/api/v1/points/proposals/{id}/approve/": {"post"},
        "/api/v1/points/proposals/{id}/reject/": {"post"}, "/api/v1/points/proposals/{id}/withdraw/": {"post"},
        "/api/v1/points/appeals/": {"get", "post"}, "/api/v1/points/appeals/{id}/uphold/": {"post"},
        "/api/v1/points/appeals/{id}/refuse/": {"post"}, "/api/v1/points/batches/": {"get", "post"},
        "/api/v1/points/batches/{id}/": {"get"}, "/api/v1/points/batches/{id}/retry/": {"post"},
    }.items():
        assert methods <= set(paths[path]), path
    entries = {p["name"] for p in paths["/api/v1/points/entries/"]["get"]["parameters"]}
    assert {"resident", "rule", "source_kind", "occurred_from", "occurred_to", "page", "page_size"} <= entries
    assert "multipart/form-data" in paths["/api/v1/points/batches/"]["post"]["requestBody"]["content"]
