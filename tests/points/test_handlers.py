"""Automatic postings from ``cases.verified_report``: reporter +, reported household −, praised
household +, under the rules marked for it; idempotent per event; nothing when points is off."""
import pytest
from django.db import transaction
from django_tenants.utils import tenant_context

from kernel import events
from kernel.events import relay_pending
from kernel.models import HandledEvent, OutboxEvent
from modules.points.committee import services as proposals
from modules.points.ledger import reports
from modules.points.ledger import rules as rulebook
from modules.points.models import Balance, Entry, Proposal, ReportFact
from modules.registry import services as registry
from tests.points.conftest import assert_ledger_consistent, rule_fields

pytestmark = pytest.mark.django_db


def payload(w, case_id=501, *, category="corridor_clutter", reporter=True, offender=None, praised=None):
    return {"case_id": case_id, "channel": "outdoor_report" if offender else "snap", "category": category,
            "reporter_user_id": w.res_user.pk if reporter else None,
            "reporter_household_id": w.places["h1"].pk if reporter else None,
            "offender_household_id": offender.pk if offender else None,
            "praised_household_id": praised.pk if praised else None}


def points_of(resident):
    return Balance.objects.filter(resident=resident, kind="civic").values_list("points", flat=True).first() or 0


def test_reporter_gains_and_the_reported_household_loses(in_district):
    """Kangbashi's default example rules: report_uncivil +2 for the reporter, corridor_clutter −2 for
    each member of the reported household (a category rule beats the general uncivil_reported)."""
    w = in_district
    r5 = registry.register_resident(actor=None, name="赵五", household=w.places["h2"])
    done = reports.award_verified_report(payload=payload(w, offender=w.places["h2"]))
    assert done == {"posted": 3, "proposed": 0, "skipped": 0}
    assert points_of(w.r1) == 2 and points_of(w.r3) == -2 and points_of(r5) == -2
    offence = Entry.objects.get(resident=w.r3)
    assert (offence.rule.code, offence.source_kind, offence.source_id, offence.posted_by) == (
        "corridor_clutter", "case", 501, None)
    other = reports.award_verified_report(payload=payload(w, 502, category="noise", offender=w.places["h3"]))
    assert other["posted"] == 2 and Entry.objects.get(resident=w.r4).rule.code == "uncivil_reported"
    fact = ReportFact.objects.get(case_id=501)
    assert fact.offender_household == w.places["h2"] and fact.reporter_household == w.places["h1"]


def test_the_same_event_twice_posts_nothing_new(in_district):
    w = in_district
    first = reports.award_verified_report(payload=payload(w, offender=w.places["h2"]))
    again = reports.award_verified_report(payload=payload(w, offender=w.places["h2"]))
    assert first["posted"] == 2 and again["posted"] == 0
    assert Entry.objects.count() == 2 and ReportFact.objects.count() == 1


def test_a_praised_household_gains_and_the_reporter_is_not_deducted_for_their_own_home(in_district):
    w = in_district
    reports.award_verified_report(payload=payload(w, 601, category="praise", praised=w.places["h2"]))
    # the praised household +2 (praised_by_neighbours); who praised it +1 (report_good_deed, mapped to "praise")
    assert points_of(w.r3) == 2 and points_of(w.r1) == 1
    assert Entry.objects.get(resident=w.r1).rule.code == "report_good_deed"
    # r1 reports their own household: the reporter is not deducted, the other member is
    reports.award_verified_report(payload=payload(w, 602, offender=w.places["h1"]))
    assert points_of(w.r1) == 3 and points_of(w.r2) == -2


def test_household_awards_can_go_to_the_head_only(in_district):
    from tests.points.conftest import set_points_config

    w = in_district
    set_points_config(household_awards="head")
    reports.award_verified_report(payload=payload(w, reporter=False, offender=w.places["h1"]))
    assert points_of(w.r1) == -2 and points_of(w.r2) == 0


def test_caps_apply_and_a_capped_posting_is_skipped_quietly(in_district):
    w = in_district
    rulebook.revise_rule(actor=w.admin, rule="report_uncivil", cap_period="day", cap_count=1, cap_points=None)
    reports.award_verified_report(payload=payload(w, 701))
    done = reports.award_verified_report(payload=payload(w, 702))
    assert done == {"posted": 0, "proposed": 0, "skipped": 1} and points_of(w.r1) == 2


def test_an_automatic_rule_that_needs_the_committee_makes_a_proposal(in_district):
    w = in_district
    rulebook.revise_rule(actor=w.admin, rule="report_uncivil", committee_required=True)
    assert reports.award_verified_report(payload=payload(w, 801))["proposed"] == 1
    assert reports.award_verified_report(payload=payload(w, 801))["proposed"] == 0
    proposal = Proposal.objects.get()
    assert (proposal.resident, proposal.points, proposal.source_kind, proposal.proposed_by) == (w.r1, 2, "case", None)
    proposals.approve_proposal(actor=w.m1, proposal=proposal)
    proposals.approve_proposal(actor=w.m2, proposal=proposal)
    assert points_of(w.r1) == 2


def test_no_rule_for_it_means_no_points(in_district):
    w = in_district
    for code in ("report_uncivil", "report_other"):  # noise's rule, and the one for unmapped categories
        rulebook.revise_rule(actor=w.admin, rule=code, auto_source="")
    rulebook.create_rule(actor=w.admin, code="t_anon", **rule_fields(auto_source="verified_report.praised",
                                                                     auto_categories=["praise"]))
    done = reports.award_verified_report(payload=payload(w, 901, category="noise", reporter=True))
    assert done == {"posted": 0, "proposed": 0, "skipped": 0} and not Entry.objects.exists()
    assert ReportFact.objects.filter(case_id=901).exists()  # the report still counts for the compound score
    anonymous = payload(w, 902, reporter=False)
    reports.award_verified_report(payload=anonymous)
    assert not Entry.objects.exists()


def test_through_the_outbox_each_event_is_handled_once(in_district):
    w = in_district
    with transaction.atomic():
        event = events.publish("cases.verified_report", payload(w, 1001, offender=w.places["h2"]))
    relay_pending()
    assert HandledEvent.objects.filter(event=event, handler="points.verified_report").count() == 1
    assert points_of(w.r1) == 2 and points_of(w.r3) == -2
    OutboxEvent.objects.filter(pk=event.pk).update(delivered_at=None)
    HandledEvent.objects.filter(event=event).delete()  # as if the worker died before marking it handled
    relay_pending()
    assert points_of(w.r1) == 2 and points_of(w.r3) == -2 and Entry.objects.count() == 2


def test_a_resolved_case_is_credited_under_its_reference_never_its_internal_id(in_district):
    """The reporter reads the case's reference (KAN-…) on the posting, from the event cases publishes."""
    from modules.cases import services as cases

    w = in_district
    case = cases.submit_case(actor=w.res_user, channel="snap", category="corridor_clutter", title="楼道堆物",
                             household=w.places["h1"])
    case = cases.accept_case(actor=case.assignee, case=case)
    case = cases.start_case(actor=case.assignee, case=case)
    case = cases.resolve_case(actor=case.assignee, case=case, result="已清理")
    relay_pending()
    entry = Entry.objects.select_related("rule_version").get(source_kind="case", source_id=case.pk, resident=w.r1)
    assert entry.reason == f"{entry.rule_version.name_zh} (case {case.ref}, verified)"


def test_an_event_without_a_reference_names_no_case(in_district):
    w = in_district
    reports.award_verified_report(payload=payload(w, 4242))
    entry = Entry.objects.select_related("rule_version").get(source_id=4242)
    assert entry.reason == f"{entry.rule_version.name_zh} (a report, verified)" and "4242" not in entry.reason
    reports.award_verified_report(payload={**payload(w, 4243), "ref": "KAN-20261207-0007"})
    assert "(case KAN-20261207-0007, verified)" in Entry.objects.get(source_id=4243).reason


def test_a_district_with_points_off_skips_the_handler(dongsheng):
    with tenant_context(dongsheng):
        with transaction.atomic():
            event = events.publish("cases.verified_report", {"case_id": 1, "category": "parking",
                                                             "reporter_user_id": None})
        relay_pending()
        event.refresh_from_db()
        assert event.delivered_at is not None and not event.last_error
        assert not HandledEvent.objects.filter(event=event).exists()
        assert not ReportFact.objects.exists() and not Entry.objects.exists()
        assert_ledger_consistent()
