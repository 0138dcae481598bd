"""Cases: intake, routing, every transition (allowed and refused), permissions, grab, escalation."""
import datetime as dt

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from kernel.errors import Conflict, DomainError, NotAllowed
from kernel.models import AuditEntry, OutboxEvent
from kernel.services import update_module_config
from modules.cases import selectors, services
from modules.cases.calendar import END_OF_DAY, TZ
from modules.cases.models import Case, CaseEvent, Category, ResponsibilityList
from modules.catalog import catalog
from tests.cases.conftest import T0, at

pytestmark = pytest.mark.django_db
S = Case.Status


def submit(w, category="corridor_clutter", *, actor=None, household="h1", now=T0, **kw):
    kw.setdefault("channel", "snap")
    place = {"household": w.places[household]} if household else {}
    return services.submit_case(actor=actor if actor is not None else w.reporter, category=category,
                                title=kw.pop("title", "楼道里堆满了纸箱"), now=now, **place, **kw)


def kinds(case):
    return list(CaseEvent.objects.filter(case=case).order_by("at", "id").values_list("kind", flat=True))


def topics(topic):
    return [e.payload for e in OutboxEvent.objects.filter(topic=topic).order_by("created_at")]


def set_config(**changes):
    data = catalog["cases"].default_config() | changes
    update_module_config(actor=None, module_key="cases", data=data)


def eod(y, m, d):
    return dt.datetime.combine(dt.date(y, m, d), END_OF_DAY, tzinfo=TZ)


# --- intake and routing -------------------------------------------------------------------------

def test_submit_dispatches_to_the_grid_worker_with_dues_across_the_holiday(in_district):
    w = in_district
    case = submit(w, contact="13912345678")
    assert case.status == S.ASSIGNED and case.assignee == w.gw1
    assert case.grid.code == "G0101" and case.community.code == "C01" and case.compound.code == "X01"
    assert case.responsible_kind == "grid_workers" and case.responsible_code == "G0101"
    assert case.rlist.version == 1 and case.reporter_household == w.places["h1"]
    assert case.response_due == at(2026, 10, 1, 10, 0)  # 24 clock hours
    assert case.resolution_due == eod(2026, 10, 13)  # 5 working days: Oct 8, 9, Sat 10, 12, 13
    assert case.ref.startswith("KAN-20260930-") and len(case.ref) == len("KAN-20260930-0001")
    assert "13912345678" not in case.reporter_contact_encrypted and case.reporter_contact_masked == "139****5678"
    assert kinds(case) == ["submitted", "assigned"]
    assert topics("cases.submitted")[0]["case_id"] == case.pk
    assert AuditEntry.objects.filter(action="cases.submit", target_id=str(case.pk)).exists()
    second = submit(w)
    assert int(second.ref[-4:]) == int(case.ref[-4:]) + 1


def test_idempotent_submit_returns_the_same_case(in_district):
    w = in_district
    first = submit(w, idempotency_key="retry-1")
    made = Case.objects.count()
    again = submit(w, idempotency_key="retry-1")
    assert again.pk == first.pk and Case.objects.count() == made
    with pytest.raises(Conflict) as other_body:  # the same key with another report (kernel.idempotency)
        submit(w, idempotency_key="retry-1", title="另一个标题")
    assert other_body.value.code == "idempotency_key_reused"
    with pytest.raises(Conflict):  # somebody else's key
        submit(w, idempotency_key="retry-1", actor=w.other_resident)
    assert Case.objects.count() == made


def test_intake_checks(in_district):
    w = in_district
    with pytest.raises(DomainError) as long_title:
        submit(w, title="长" * 81)
    assert "title" in long_title.value.fields
    with pytest.raises(DomainError) as long_text:
        submit(w, description="长" * 2001)
    assert "description" in long_text.value.fields
    with pytest.raises(DomainError) as no_household:
        submit(w, channel="outdoor_report", household=None)
    assert "household" in no_household.value.fields
    with pytest.raises(DomainError):
        submit(w, contact="12345")
    with pytest.raises(NotAllowed):  # merchants file merchant requests
        submit(w, channel="merchant_request")
    with pytest.raises(NotAllowed):  # residents don't post as the hotline
        submit(w, channel="hotline")
    with pytest.raises(NotAllowed):  # nor does an anonymous caller
        services.submit_case(actor=None, channel="open311", category="noise", title="x", now=T0)
    typed_in = submit(w, channel="mailbox", actor=w.staff_c1)  # staff type in a letter
    assert typed_in.channel == "mailbox" and typed_in.reporter == w.staff_c1
    anonymous = services.submit_case(actor=None, channel="snap", category="noise", title="半夜装修",
                                     grid=w.places["g3"], now=T0)
    assert anonymous.reporter is None and anonymous.assignee == w.gw2
    set_config(anonymous_reports=False)
    with pytest.raises(NotAllowed):
        services.submit_case(actor=None, channel="snap", category="noise", title="半夜装修", now=T0)


def test_routing_most_specific_area_wins_and_cases_keep_their_version(in_district):
    w = in_district
    before = submit(w)
    limits = {"response_amount": 4, "response_unit": "hours", "resolution_amount": 2,
              "resolution_unit": "working_days"}
    v2 = services.publish_responsibility_list(actor=w.admin, note="v2", now=T0, items=[
        {"category": "noise", "area_kind": "district", "unit_kind": "grid_workers", **limits},
        {"category": "noise", "area_kind": "street", "area_code": "S01", "unit_kind": "community",
         "unit_code": "C02", **limits},
        {"category": "noise", "area_kind": "community", "area_code": "C01", "unit_kind": "community",
         "unit_code": "C01", **limits},
        {"category": "noise", "area_kind": "grid", "area_code": "G0102", "unit_kind": "department",
         "unit_code": "urban", **limits},
    ])
    assert v2.version == 2 and ResponsibilityList.objects.filter(is_current=True).get() == v2
    in_g1 = submit(w, "noise")  # grid G0101 has no row: its community's row beats street and district
    in_g2 = submit(w, "noise", household="h2")  # grid G0102's own row
    in_g3 = submit(w, "noise", household="h3")  # street S02, community C02: only the district row
    assert (in_g1.responsible_kind, in_g1.responsible_code, in_g1.status) == ("community", "C01", S.SUBMITTED)
    assert (in_g2.responsible_kind, in_g2.responsible_code) == ("department", "urban")
    assert (in_g3.responsible_kind, in_g3.responsible_code, in_g3.assignee) == ("grid_workers", "G0201", w.gw2)
    assert in_g1.resolution_due == eod(2026, 10, 9) and in_g1.response_due == at(2026, 9, 30, 14, 0)
    assert in_g1.owner_level == 1 and in_g2.owner_level == 3 and in_g3.owner_level == 0
    before.refresh_from_db()
    assert before.rlist.version == 1 and in_g1.rlist == v2
    fallback = submit(w, "corridor_clutter")  # not in v2: the configured defaults, the grid's workers
    assert fallback.rlist == v2 and fallback.assignee == w.gw1
    with pytest.raises(IntegrityError), transaction.atomic():  # only one current list
        ResponsibilityList.objects.create(version=9, is_current=True, published_at=T0)


# --- the lifecycle ------------------------------------------------------------------------------

def test_full_lifecycle_and_timeline(in_district):
    w = in_district
    case = submit(w)
    case = services.accept_case(actor=w.gw1, case=case, now=T0 + dt.timedelta(hours=1))
    assert case.status == S.ACCEPTED and case.responded_at == T0 + dt.timedelta(hours=1)
    case = services.start_case(actor=w.gw1, case=case, now=T0 + dt.timedelta(hours=2))
    with pytest.raises(DomainError) as no_result:
        services.resolve_case(actor=w.gw1, case=case, result="  ")
    assert "result" in no_result.value.fields
    case = services.resolve_case(actor=w.gw1, case=case, result="已清理", now=T0 + dt.timedelta(hours=3))
    assert case.status == S.RESOLVED and case.next_escalation_at is None
    case = services.confirm_and_rate(actor=w.reporter, case=case, rating=5, now=T0 + dt.timedelta(hours=4))
    assert case.status == S.CLOSED and case.rating == 5 and case.closed_at
    assert kinds(case) == ["submitted", "assigned", "accepted", "started", "resolved", "confirmed"]
    assert topics("cases.resolved")[0]["case_id"] == case.pk
    assert topics("cases.closed")[0] == {
        "case_id": case.pk, "ref": case.ref, "rating": 5, "auto": False, "assignee_id": w.gw1.pk,
        "grid_id": case.grid_id, "reporter_id": w.reporter.pk, "comment": "",
        "closed_at": (T0 + dt.timedelta(hours=4)).isoformat(), "follow_up_of_id": None}
    assert topics("cases.bad_rating") == []
    verified = topics("cases.verified_report")[0]
    assert verified["reporter_user_id"] == w.reporter.pk and verified["offender_household_id"] is None
    assert verified["ref"] == case.ref  # what points shows the resident: the reference, never the id


@pytest.mark.parametrize("status,action", [
    ("assigned", "start"), ("assigned", "resolve"), ("submitted", "start"), ("accepted", "confirm"),
    ("closed", "accept"), ("closed", "transfer"), ("closed", "reject"), ("resolved", "start"),
    ("in_progress", "reopen"), ("assigned", "grab"), ("rejected", "resolve"), ("in_progress", "accept"),
])
def test_refused_transitions_answer_409_naming_the_allowed_states(in_district, status, action):
    w = in_district
    case = submit(w)
    Case.objects.filter(pk=case.pk).update(
        status=status, resolved_at=T0 if status in ("resolved", "closed") else None,
        closed_at=T0 if status == "closed" else None, reject_reason="duplicate" if status == "rejected" else "",
        assignee=w.gw1)
    case.refresh_from_db()
    calls = {
        "start": lambda: services.start_case(actor=w.admin, case=case),
        "resolve": lambda: services.resolve_case(actor=w.admin, case=case, result="x"),
        "confirm": lambda: services.confirm_and_rate(actor=w.reporter, case=case, rating=4),
        "accept": lambda: services.accept_case(actor=w.admin, case=case),
        "transfer": lambda: services.transfer_case(actor=w.admin, case=case, unit_kind="community",
                                                   unit_code="C01", reason="x"),
        "reject": lambda: services.reject_case(actor=w.admin, case=case, reason="not_our_responsibility",
                                               note="供电局"),
        "reopen": lambda: services.reopen_case(actor=w.reporter, case=case, reason="没修好"),
        "grab": lambda: services.grab_case(actor=w.gw1b, case=case),
    }
    with pytest.raises(Conflict) as refused:
        calls[action]()
    assert refused.value.status == 409 and refused.value.code == "wrong_status"
    assert f"is {status}" in refused.value.message and "only a case that is" in refused.value.message
    case.refresh_from_db()
    assert case.status == status


def test_permissions_on_transitions(in_district):
    w = in_district
    case = submit(w)
    for outsider in (w.gw2, w.gw1b, w.other_resident, w.reporter, w.staff_c2, w.dept):
        with pytest.raises(NotAllowed):
            services.accept_case(actor=outsider, case=case)
    services.accept_case(actor=w.gw1, case=case)
    for outsider in (w.gw2, w.other_resident, w.reporter, w.staff_c2, w.dept):
        with pytest.raises(NotAllowed):
            services.resolve_case(actor=outsider, case=case, result="x")
    with pytest.raises(NotAllowed):
        services.transfer_case(actor=w.staff_c2, case=case, unit_kind="community", unit_code="C02", reason="x")
    services.start_case(actor=w.staff_c1, case=case)  # community staff supervise their community
    services.resolve_case(actor=w.admin, case=case, result="已处理")  # district admins everything
    for not_reporter in (w.other_resident, w.gw1, w.admin):
        with pytest.raises(NotAllowed):
            services.confirm_and_rate(actor=not_reporter, case=case, rating=5)
    with pytest.raises(DomainError):
        services.confirm_and_rate(actor=w.reporter, case=case, rating=6)


def test_department_and_community_units_accept_unassigned_cases(in_district):
    w = in_district
    services.publish_responsibility_list(actor=w.admin, now=T0, items=[
        {"category": "noise", "area_kind": "district", "unit_kind": "department", "unit_code": "urban"},
        {"category": "suggestion", "area_kind": "district", "unit_kind": "community", "unit_code": "C01"},
    ])
    noise = submit(w, "noise", household="h3")
    assert noise.status == S.SUBMITTED and noise.assignee is None
    with pytest.raises(NotAllowed):
        services.accept_case(actor=w.gw2, case=noise)
    noise = services.accept_case(actor=w.dept, case=noise)
    assert noise.assignee == w.dept and noise.status == S.ACCEPTED
    with pytest.raises(DomainError):  # a suggestion is addressed to a street, community or compound
        submit(w, "suggestion", channel="suggestion", household=None)
    suggestion = submit(w, "suggestion", channel="suggestion", household=None,
                        street=w.places["g1"].community.street)
    assert suggestion.street == w.places["g1"].community.street and suggestion.community is None
    with pytest.raises(NotAllowed):
        services.accept_case(actor=w.staff_c2, case=suggestion)
    assert services.accept_case(actor=w.staff_c1, case=suggestion).assignee == w.staff_c1


def test_who_sees_what(in_district):
    w = in_district
    mine = submit(w)  # G0101 / C01
    theirs = services.submit_case(actor=w.other_resident, channel="snap", category="noise", title="噪音",
                                  household=w.places["h3"], now=T0)  # G0201 / C02
    services.publish_responsibility_list(actor=w.admin, now=T0, items=[
        {"category": "noise", "area_kind": "district", "unit_kind": "department", "unit_code": "urban"}])
    dept_case = submit(w, "noise", household="h2", actor=w.other_resident)  # G0102 / C01 → department

    def seen(user):
        user.__dict__.pop("_role_cache", None)
        return set(selectors.cases_for(user).values_list("pk", flat=True))

    assert seen(w.reporter) == {mine.pk}
    assert seen(w.other_resident) == {theirs.pk, dept_case.pk}
    assert seen(w.gw1) == {mine.pk}
    assert seen(w.gw2) == {theirs.pk}
    assert seen(w.staff_c1) == {mine.pk, dept_case.pk}
    assert seen(w.staff_c2) == {theirs.pk}
    assert seen(w.dept) == {dept_case.pk}
    assert seen(w.admin) == {mine.pk, theirs.pk, dept_case.pk}
    assert not selectors.can_see(w.gw2, mine) and selectors.can_see(w.gw1, mine)
    services.add_participant(actor=w.staff_c1, case=mine, kind="mediator", user=w.mediator)
    assert mine.pk in seen(w.mediator) and len(selectors.cases_for(w.admin)) == 3


# --- grab ---------------------------------------------------------------------------------------

def test_grab_pool_eligibility_and_cap(in_district):
    w = in_district
    first = submit(w, "parking")  # a grab category: goes to the pool
    assert first.status == S.SUBMITTED and first.assign_mode == "grab" and kinds(first) == ["submitted", "pooled"]
    assert list(selectors.pool_for(w.gw1b)) == [first] and list(selectors.pool_for(w.gw2)) == []
    assert list(selectors.pool_for(w.staff_c1)) == []
    with pytest.raises(NotAllowed):
        services.grab_case(actor=w.gw2, case=first)  # another grid's worker
    grabbed = services.grab_case(actor=w.gw1b, case=first)
    assert grabbed.status == S.ASSIGNED and grabbed.assignee == w.gw1b and kinds(grabbed)[-1] == "grabbed"
    with pytest.raises(Conflict) as taken:
        services.grab_case(actor=w.gw1, case=first)
    assert taken.value.status == 409
    set_config(grab_cap_per_worker=1)
    second = submit(w, "parking")
    with pytest.raises(Conflict) as capped:
        services.grab_case(actor=w.gw1b, case=second)
    assert capped.value.code == "grab_cap"
    assert services.grab_case(actor=w.gw1, case=second).assignee == w.gw1
    dispatched = submit(w)  # dispatch cases are not in the pool
    with pytest.raises(Conflict):
        services.grab_case(actor=w.gw1b, case=dispatched)


def test_grab_locks_the_case_row_so_only_one_of_two_grabbers_wins(in_district):
    """Two grabbers: the case row is read FOR UPDATE, so the second waits for the first's commit and
    then sees the case taken. The test database runs each test in one transaction, so the second
    grabber is replayed after the first rather than on a second connection."""
    w = in_district
    case = submit(w, "parking")
    stale_copy = Case.objects.get(pk=case.pk)  # what the second request loaded before the first won
    with CaptureQueriesContext(connection) as queries:
        services.grab_case(actor=w.gw1, case=case)
    locked = [q["sql"] for q in queries.captured_queries if "FOR UPDATE" in q["sql"]]
    assert any('"cases_case"' in sql for sql in locked)
    with pytest.raises(Conflict):
        services.grab_case(actor=w.gw1b, case=stale_copy)
    assert Case.objects.get(pk=case.pk).assignee == w.gw1
    assert CaseEvent.objects.filter(case=case, kind="grabbed").count() == 1


# --- reopen, auto-close, transfer, joint handling, rejection, duplicates ---------------------------

def test_reopen_within_the_window_only(in_district):
    w = in_district
    case = submit(w)
    services.accept_case(actor=w.gw1, case=case, now=T0)
    services.resolve_case(actor=w.gw1, case=case, result="已清理", now=T0)
    with pytest.raises(NotAllowed):
        services.reopen_case(actor=w.other_resident, case=case, reason="没修好")
    case = services.reopen_case(actor=w.reporter, case=case, reason="又堆上了", now=T0 + dt.timedelta(days=1))
    assert case.status == S.ASSIGNED and case.reopen_count == 1 and case.resolved_at is None
    services.accept_case(actor=w.gw1, case=case, now=T0 + dt.timedelta(days=1))
    services.resolve_case(actor=w.gw1, case=case, result="再次清理", now=T0 + dt.timedelta(days=2))
    services.confirm_and_rate(actor=w.reporter, case=case, rating=4, now=T0 + dt.timedelta(days=2))
    with pytest.raises(Conflict) as late:
        services.reopen_case(actor=w.reporter, case=case, reason="x", now=T0 + dt.timedelta(days=10))
    assert late.value.code == "reopen_window_passed"


def test_auto_close_after_the_quiet_period(in_district):
    w = in_district
    quiet, recent = submit(w), submit(w)
    for case, when in ((quiet, T0), (recent, T0 + dt.timedelta(days=6))):
        services.accept_case(actor=w.gw1, case=case, now=when)
        services.resolve_case(actor=w.gw1, case=case, result="已处理", now=when)
    assert services.auto_close(now=T0 + dt.timedelta(days=7, minutes=1)) == 1
    quiet.refresh_from_db()
    recent.refresh_from_db()
    assert quiet.status == S.CLOSED and quiet.rating is None and recent.status == S.RESOLVED
    assert kinds(quiet)[-1] == "auto_closed"
    assert topics("cases.auto_closed") == [{"cases": [{"case_id": quiet.pk, "ref": quiet.ref}]}]
    assert services.auto_close(now=T0 + dt.timedelta(days=7, minutes=2)) == 0


def test_transfer_and_joint_handlers(in_district):
    w = in_district
    case = submit(w)
    with pytest.raises(DomainError):
        services.transfer_case(actor=w.gw1, case=case, unit_kind="community", unit_code="C01", reason=" ")
    with pytest.raises(DomainError):
        services.transfer_case(actor=w.gw1, case=case, unit_kind="department", unit_code="nope", reason="x")
    case = services.transfer_case(actor=w.gw1, case=case, unit_kind="grid_workers", unit_code="G0201",
                                  reason="位置报错了")
    assert case.assignee == w.gw2 and case.status == S.ASSIGNED and case.responsible_code == "G0201"
    event = CaseEvent.objects.get(case=case, kind="transferred")
    assert event.data["from"]["assignee"] == "gw1" and event.note == "位置报错了"
    case = services.transfer_case(actor=w.admin, case=case, unit_kind="department", unit_code="urban",
                                  reason="需要执法")
    assert case.assignee is None and case.status == S.SUBMITTED and case.owner_level == 3
    services.add_participant(actor=w.admin, case=case, kind="sector_worker", user=w.sector)
    services.add_participant(actor=w.dept, case=case, kind="department", department_code="urban")
    with pytest.raises(Conflict):
        services.add_participant(actor=w.dept, case=case, kind="department", department_code="urban")
    with pytest.raises(DomainError):  # a grid worker is not a mediator
        services.add_participant(actor=w.admin, case=case, kind="mediator", user=w.gw1)
    with pytest.raises(NotAllowed):
        services.add_participant(actor=w.gw1, case=case, kind="mediator", user=w.mediator)
    assert case.participants.count() == 2 and kinds(case).count("joint_handler_added") == 2


def hotline_of(w):
    from modules.cases.intake.integrations import create_integration

    return create_integration(actor=w.admin, name="12345", kind="hotline")[0]


def test_reject_and_link_duplicates_across_channels(in_district):
    w = in_district
    hotline = services.submit_case(actor=None, channel="hotline", integration=hotline_of(w), category="corridor_clutter",
                                   title="12345：楼道堆物", household=w.places["h1"], now=T0)
    snap = submit(w)
    with pytest.raises(DomainError):
        services.reject_case(actor=w.gw1, case=snap, reason="duplicate")  # which parent?
    with pytest.raises(DomainError):
        services.link_duplicate(actor=w.gw1, case=snap, parent=snap)
    with pytest.raises(NotAllowed):
        services.link_duplicate(actor=w.gw2, case=snap, parent=hotline)
    snap = services.link_duplicate(actor=w.gw1, case=snap, parent=hotline)
    assert snap.status == S.REJECTED and snap.parent == hotline and snap.reject_reason == "duplicate"
    third = submit(w)
    third = services.link_duplicate(actor=w.gw1, case=third, parent=snap)  # linked to the root
    assert third.parent == hotline
    services.accept_case(actor=w.gw1, case=hotline)
    services.resolve_case(actor=w.gw1, case=hotline, result="已清理楼道")
    snap.refresh_from_db()
    assert snap.result == "已清理楼道" and kinds(snap)[-1] == "answered_via_parent"
    assert sorted(topics("cases.resolved")[0]["duplicate_ids"]) == sorted([snap.pk, third.pk])
    assert topics("cases.verified_report") == []  # hotline cases don't earn points
    other = submit(w)
    with pytest.raises(DomainError):
        services.reject_case(actor=w.gw1, case=other, reason="not_our_responsibility")  # whose, then?
    other = services.reject_case(actor=w.gw1, case=other, reason="not_our_responsibility", note="属供电公司")
    assert other.status == S.REJECTED and other.responded_at is not None
    assert [p["reason"] for p in topics("cases.rejected")] == ["duplicate", "duplicate", "not_our_responsibility"]


def test_bad_rating_and_verified_outdoor_reports_publish_events(in_district):
    w = in_district
    report = submit(w, "corridor_clutter", channel="outdoor_report", household="h3")
    praise = submit(w, "praise", channel="outdoor_praise", household="h1", title="帮邻居搬东西")
    for case in (report, praise):
        assignee = Case.objects.get(pk=case.pk).assignee
        services.accept_case(actor=assignee, case=case)
        services.resolve_case(actor=assignee, case=case, result="属实")
    verified = {p["case_id"]: p for p in topics("cases.verified_report")}
    assert verified[report.pk]["offender_household_id"] == w.places["h3"].pk
    assert verified[report.pk]["reporter_household_id"] == w.places["h1"].pk
    assert verified[praise.pk]["praised_household_id"] == w.places["h1"].pk
    assert verified[praise.pk]["offender_household_id"] is None
    services.confirm_and_rate(actor=w.reporter, case=report, rating=2, comment="太慢了")
    services.confirm_and_rate(actor=w.reporter, case=praise, rating=3)
    bad = topics("cases.bad_rating")
    assert len(bad) == 1 and bad[0]["case_id"] == report.pk and bad[0]["rating"] == 2


# --- escalation ---------------------------------------------------------------------------------

def test_escalation_sweep_moves_only_overdue_cases_across_the_holiday(in_district):
    w = in_district
    unanswered = submit(w)  # response due Oct 1 10:00 (24 clock hours)
    answered = submit(w)
    services.accept_case(actor=w.gw1, case=answered, now=T0 + dt.timedelta(hours=1))  # resolution due Oct 13
    done = submit(w)
    services.accept_case(actor=w.gw1, case=done, now=T0)
    services.resolve_case(actor=w.gw1, case=done, result="ok", now=T0)

    assert services.escalate_overdue(now=at(2026, 10, 1, 9, 59)) == 0
    assert services.escalate_overdue(now=at(2026, 10, 1, 10, 0)) == 1
    unanswered.refresh_from_db()
    assert unanswered.owner_level == 1 and unanswered.escalation_level == 1
    assert unanswered.next_escalation_at == at(2026, 10, 2, 10, 0)
    assert kinds(unanswered)[-1] == "escalated"
    assert CaseEvent.objects.get(case=unanswered, kind="escalated").data == {"owner_level": 1}
    assert topics("cases.escalated")[0]["cases"] == [
        {"case_id": unanswered.pk, "owner_level": "community", "assignee_id": w.gw1.pk}]
    assert services.escalate_overdue(now=at(2026, 10, 1, 12, 0)) == 0  # not twice within the step

    # The accepted case is not late all through the National Day week (due at the end of Oct 13).
    assert services.escalate_overdue(now=at(2026, 10, 13, 23, 0)) == 1  # only `unanswered`, to street
    answered.refresh_from_db()
    assert answered.owner_level == 0
    assert services.escalate_overdue(now=at(2026, 10, 14, 0, 0)) == 1
    answered.refresh_from_db()
    assert answered.owner_level == 1 and answered.status == S.ACCEPTED
    for day in range(15, 20):
        services.escalate_overdue(now=at(2026, 10, day, 1, 0))
    unanswered.refresh_from_db()
    assert unanswered.owner_level == 4 and unanswered.next_escalation_at is None  # district supervision: top
    assert Case.objects.get(pk=done.pk).owner_level == 0
    assert CaseEvent.objects.filter(case=done, kind="escalated").count() == 0


# --- figures ------------------------------------------------------------------------------------

def test_figures_on_a_known_set(in_district):
    w = in_district
    a, b = submit(w), submit(w)  # G0101, worker gw1
    c = submit(w, household="h3")  # G0201, worker gw2
    services.accept_case(actor=w.gw1, case=a, now=T0 + dt.timedelta(hours=1))
    services.resolve_case(actor=w.gw1, case=a, result="ok", now=T0 + dt.timedelta(hours=3))
    services.accept_case(actor=w.gw1, case=b, now=T0 + dt.timedelta(hours=3))
    services.accept_case(actor=w.gw2, case=c, now=T0 + dt.timedelta(hours=2))
    services.resolve_case(actor=w.gw2, case=c, result="ok", now=T0 + dt.timedelta(hours=5))
    rows = {r["key"]: r for r in selectors.figures(by="grid", now=at(2026, 10, 20, 0, 0))}
    g1 = rows["G0101"]
    assert (g1["total"], g1["replied"], g1["resolved"], g1["overdue"], g1["workload"]) == (2, 2, 1, 1, 1)
    assert g1["reply_rate"] == 1.0 and g1["resolution_rate"] == 0.5
    assert g1["median_response_seconds"] == 2 * 3600  # median of 1 h and 3 h
    assert g1["median_resolution_seconds"] == 3 * 3600
    assert rows["G0201"]["resolution_rate"] == 1.0 and rows["G0201"]["overdue"] == 0
    workers = {r["key"]: r for r in selectors.figures(by="worker", now=T0)}
    assert workers["gw1"]["workload"] == 1 and workers["gw1"]["overdue"] == 0 and workers["gw2"]["workload"] == 0
    assert selectors.figures(by="department") == []
    with pytest.raises(ValueError):
        selectors.figures(by="street")


def test_database_constraints(in_district):
    w = in_district
    case = submit(w)
    for bad in ({"rating": 6, "status": "closed", "closed_at": T0}, {"status": "rejected"},
                {"status": "assigned", "assignee": None}, {"status": "closed"}, {"parent": case},
                {"rating": 3}):
        with pytest.raises(IntegrityError), transaction.atomic():
            Case.objects.filter(pk=case.pk).update(**bad)
    assert Category.objects.filter(code="corridor_clutter", assign_mode="dispatch").exists()


def test_sweep_task_seed_and_spec(in_district):
    from modules.cases import tasks

    w = in_district
    late = submit(w, now=T0)
    result = tasks.sweep.apply().get()  # runs in this schema, now is after the due times
    assert result == {"escalated": 1, "auto_closed": 0}
    assert Case.objects.get(pk=late.pk).owner_level == 1
    spec = catalog["cases"]
    assert [p.task for p in spec.periodic_tasks] == [tasks.sweep.name, tasks.deliver_webhooks.name, tasks.sweep_orphan_files.name]
    assert selectors.open_case_kpi() == 1 and selectors.overdue_case_kpi() == 1
    services.seed(template="", actor=None)  # a second run adds nothing
    assert Category.objects.count() == len(services.DEFAULT_CATEGORIES)
    assert ResponsibilityList.objects.count() == 1
    assert ResponsibilityList.objects.get().items.count() == len(services.DEFAULT_CATEGORIES)


def test_duplicate_candidates_across_channels(in_district):
    w = in_district
    hotline = services.submit_case(actor=None, channel="hotline", integration=hotline_of(w), category="corridor_clutter",
                                   title="3号楼2单元楼道堆满纸箱", household=w.places["h1"], now=T0)
    nearby = submit(w, household=None, latitude="39.608000", longitude="109.781000", title="楼道里纸箱",
                    grid=w.places["g1"], now=T0 + dt.timedelta(hours=2))
    snap = submit(w, title="楼道堆满纸箱", now=T0 + dt.timedelta(hours=1), latitude="39.608100",
                  longitude="109.781100")
    submit(w, "noise", title="楼道堆满纸箱", now=T0)  # another category
    submit(w, title="楼道堆满纸箱", now=T0 + dt.timedelta(days=5))  # too late
    submit(w, title="楼道堆满纸箱", household="h3", now=T0)  # elsewhere
    found = selectors.duplicate_candidates(snap)
    assert [c for c, _score in found] == [hotline, nearby]
    assert found[0][1] > found[1][1] > 0
    assert selectors.text_similarity("楼道堆物", "楼道堆物") == 1.0


def test_a_pool_case_transferred_to_another_grid_leaves_the_old_pool(in_district):
    w = in_district
    case = submit(w, "parking")
    case = services.transfer_case(actor=w.staff_c1, case=case, unit_kind="grid_workers", unit_code="G0201",
                                  reason="在第三网格")
    assert case.status == S.SUBMITTED and case.assign_mode == "grab"
    assert list(selectors.pool_for(w.gw1)) == [] and list(selectors.pool_for(w.gw2)) == [case]
    with pytest.raises(NotAllowed):
        services.grab_case(actor=w.gw1, case=case)
    assert services.grab_case(actor=w.gw2, case=case).assignee == w.gw2


def test_the_new_owner_of_an_escalated_case_is_told(in_district, settings):
    """The community's staff hear of a case escalated to the community, the street's of one escalated
    to the street (inbox and SMS, through the notification service); where a level has nobody,
    district supervision (the administrators) hears of it."""
    from django.db import connection

    from kernel import events
    from kernel.sms import MemorySender
    from modules.cases import notifications
    from notifications.models import Message
    from notifications.services import deliver_due
    from tests.conftest import make_user

    settings.SMS_SENDER = "kernel.sms.MemorySender"
    w = in_district
    c01 = make_user(w.district, "c01_phone", "community_staff", "community", "C01", phone="13900001111")
    street = w.places["g1"].community.street
    make_user(w.district, "s_phone", "community_staff", "street", street.code, phone="13900002222")
    connection.set_tenant(w.district)  # make_user leaves the district's schema
    late = submit(w)
    assert services.escalate_overdue(now=at(2026, 10, 1, 10, 0)) == 1
    events.relay_pending()
    inbox = Message.objects.get(recipient=c01, kind="cases.escalated_to_you", channel="inbox")
    assert late.ref in inbox.body and str(late.pk) not in inbox.body.replace(late.ref, "")
    assert deliver_due() >= 1
    (phone, text), = [(p, t) for p, t in MemorySender.outbox if p != "+8613900002222"]
    assert phone == "+8613900001111" and late.ref in text
    MemorySender.outbox.clear()
    assert services.escalate_overdue(now=at(2026, 10, 2, 10, 0)) == 1  # to the street
    events.relay_pending()
    deliver_due()
    assert [p for p, _t in MemorySender.outbox] == ["+8613900002222"]
    late.refresh_from_db()
    late.owner_level = 3  # department level, but the case's unit is the grid: nobody there
    assert notifications.owners_of(late) == [w.admin]
    assert "cases.notify_escalated" in [h.name for h in events.handlers_for("cases.escalated")]
