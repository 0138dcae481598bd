"""Verified reports credit the rule their case category maps to (a streetlight is not "uncivil behaviour
reported"), fall back as the district configures for a category no rule names, and go through the
committee's ``propose`` and its checks; the compound scores follow new awards (periodic task, and soon
after a verified report)."""
import datetime as dt

import pytest

from kernel.errors import DomainError
from modules.points.committee import services as proposals
from modules.points.ledger import reports, scores
from modules.points.ledger import rules as rulebook
from modules.points.ledger import services as ledger
from modules.points.models import CompoundScore, Entry, Proposal, ReportFact
from modules.points.spec import SPEC
from tests.points.conftest import set_points_config
from tests.points.test_handlers import payload, points_of

pytestmark = pytest.mark.django_db


def snap(w, case_id, category):
    """A snap report (随手拍) by r1 with no household reported: only the reporter is credited."""
    return {**payload(w, case_id, category=category), "channel": "snap"}


def test_a_streetlight_report_credits_the_public_facility_rule_not_uncivil_behaviour(in_district):
    w = in_district
    done = reports.award_verified_report(payload=snap(w, 3001, "facility_damage"))  # 路灯不亮 in the demo
    assert done == {"posted": 1, "proposed": 0, "skipped": 0}
    entry = Entry.objects.get(resident=w.r1)
    rule = entry.rule_version
    assert (entry.rule.code, entry.points, entry.source_kind, entry.source_id) == (
        "report_public_issue", rule.default_points, "case", 3001)
    assert entry.reason.startswith("反映公共设施、环境问题属实") and "不文明" not in entry.reason
    # an uncivil-behaviour category still credits 举报不文明行为属实
    reports.award_verified_report(payload=snap(w, 3002, "parking"))
    assert Entry.objects.filter(resident=w.r1, source_id=3002).get().rule.code == "report_uncivil"


def test_the_mapping_is_the_districts_rulebook(in_district):
    """A district maps its own category by revising a rule; the entry names the rule it was posted under."""
    w = in_district
    rulebook.revise_rule(actor=w.admin, rule="report_public_issue",
                         auto_categories=[*ledger.current_version("report_public_issue").auto_categories,
                                          "lost_manhole_cover"])
    reports.award_verified_report(payload=snap(w, 3101, "lost_manhole_cover"))
    entry = Entry.objects.get(source_id=3101)
    assert entry.rule.code == "report_public_issue" and entry.rule_version.version == 2


def test_an_unmapped_category_falls_back_as_configured(in_district):
    w = in_district
    reports.award_verified_report(payload=snap(w, 3201, "property_service"))  # no reporter rule names it
    entry = Entry.objects.get(source_id=3201)
    assert entry.rule.code == "report_other" and entry.reason.startswith("反映问题经核实")
    set_points_config(verified_report_unmapped="nothing")
    done = reports.award_verified_report(payload=snap(w, 3202, "property_service"))
    assert done == {"posted": 0, "proposed": 0, "skipped": 0}
    assert not Entry.objects.filter(source_id=3202).exists() and ReportFact.objects.filter(case_id=3202).exists()
    # a mapped category is credited whatever the fallback
    assert reports.award_verified_report(payload=snap(w, 3203, "facility_damage"))["posted"] == 1


def test_a_committee_rule_is_proposed_through_propose_and_its_caps_hold(in_district):
    """The automatic award is a proposal made by ``propose``: a repeated event makes none, and once the
    resident's posted entries reach the rule's cap the next report is refused at once (skipped), not
    piled up for the committee to find refused at approval."""
    w = in_district
    rulebook.revise_rule(actor=w.admin, rule="report_uncivil", committee_required=True, cap_period="day",
                         cap_count=1, cap_points=None)
    assert reports.award_verified_report(payload=snap(w, 3301, "noise"))["proposed"] == 1
    assert reports.award_verified_report(payload=snap(w, 3301, "noise"))["proposed"] == 0  # the same event
    proposal = Proposal.objects.get(source_id=3301)
    assert (proposal.source_kind, proposal.proposed_by, proposal.rule.code) == ("case", None, "report_uncivil")
    for member in (w.m1, w.m2):
        proposals.approve_proposal(actor=member, proposal=proposal)
    assert points_of(w.r1) == proposal.points
    done = reports.award_verified_report(payload=snap(w, 3302, "noise"))
    assert done == {"posted": 0, "proposed": 0, "skipped": 1}
    assert not Proposal.objects.filter(source_id=3302).exists()


def test_a_rule_not_in_force_makes_no_proposal(in_district):
    w = in_district
    yesterday = ledger.local_today() - dt.timedelta(days=1)
    rulebook.revise_rule(actor=w.admin, rule="report_public_issue", committee_required=True,
                         effective_from=yesterday - dt.timedelta(days=30), effective_to=yesterday)
    assert reports.award_verified_report(payload=snap(w, 3401, "facility_damage"))["skipped"] == 1
    assert not Proposal.objects.exists()


def test_staff_cannot_post_as_the_platform_under_a_rule_that_is_not_automatic(in_district):
    w = in_district
    automatic = ledger.Automatic(source_kind="case", source_id=1, key="case:1:reporter:x")
    with pytest.raises(DomainError) as err:
        proposals.post_or_propose(actor=None, resident=w.r1, rule="t_good", points=5, reason="x", automatic=automatic)
    assert err.value.code == "not_automatic" and not Entry.objects.exists()


def test_the_periodic_refresh_counts_a_new_award(in_district):
    from modules.points import tasks

    w = in_district
    assert "modules.points.tasks.refresh_compound_scores" in {p.task for p in SPEC.periodic_tasks}
    tasks.refresh_compound_scores()
    before = CompoundScore.objects.get(compound__code="X01")
    ledger.post_entry(actor=w.staff, resident=w.r1, rule="t_good", points=30, reason="扶老人过马路")
    assert CompoundScore.objects.get(compound__code="X01").civic_points == before.civic_points  # until refreshed
    tasks.refresh_compound_scores()
    after = CompoundScore.objects.get(compound__code="X01")
    assert after.civic_points == before.civic_points + 30 and after.score > before.score
    tasks.refresh_compound_scores()  # idempotent: the same figures again
    again = CompoundScore.objects.get(compound__code="X01")
    assert (again.civic_points, again.score, again.rank) == (after.civic_points, after.score, after.rank)


def test_a_verified_report_refreshes_the_scores_soon(in_district, eager_celery, django_capture_on_commit_callbacks):
    w = in_district
    assert not CompoundScore.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        reports.award_verified_report(payload=snap(w, 3501, "facility_damage"))
    x01 = CompoundScore.objects.get(compound__code="X01")  # recomputed after commit, not by hand
    assert x01.reports_made == 1 and x01.civic_points == points_of(w.r1)
    assert scores.REFRESH_TASK == "modules.points.tasks.refresh_compound_scores"

