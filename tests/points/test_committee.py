"""The points committee: proposals with maker–checker approval and a configurable quorum, rejection
with a reason kept, and residents' appeals decided by the committee."""
import datetime as dt

import pytest
from django.utils import timezone

from kernel.errors import Conflict, DomainError, NotAllowed
from modules.points.committee import appeals as appeal_services
from modules.points.committee import selectors as committee_selectors
from modules.points.committee import services as proposals
from modules.points.ledger import rules as rulebook
from modules.points.ledger import services as ledger
from modules.points.models import Appeal, Balance, Entry, Vote
from tests.points.conftest import set_points_config

pytestmark = pytest.mark.django_db


def balance(resident):
    return Balance.objects.filter(resident=resident, kind="civic").values_list("points", flat=True).first() or 0


def heroic(w, actor=None, resident=None, points=30, **kw):
    kw.setdefault("evidence", "监控视频与派出所证明")
    return proposals.propose(actor=actor or w.staff, resident=resident or w.r1, rule="t_committee", points=points,
                            reason="跳河救起落水儿童", **kw)


def test_approval_needs_a_quorum_of_members_other_than_the_proposer(in_district):
    w = in_district
    proposal = heroic(w, actor=w.m1)
    assert proposal.status == "pending" and proposal.quorum == 2 and balance(w.r1) == 0
    with pytest.raises(NotAllowed) as err:
        proposals.approve_proposal(actor=w.m1, proposal=proposal)
    assert err.value.code == "maker_checker"
    proposals.approve_proposal(actor=w.m2, proposal=proposal)
    proposal.refresh_from_db()
    assert proposal.status == "pending" and balance(w.r1) == 0
    with pytest.raises(Conflict):
        proposals.approve_proposal(actor=w.m2, proposal=proposal)  # one vote per member
    proposals.approve_proposal(actor=w.m3, proposal=proposal)
    proposal.refresh_from_db()
    entry = proposal.entry
    assert proposal.status == "approved" and balance(w.r1) == 30
    assert (entry.source_kind, entry.source_id, entry.posted_by, entry.approved_by, entry.evidence) == (
        "proposal", proposal.pk, w.m1, w.m3, "监控视频与派出所证明")
    with pytest.raises(Conflict):
        proposals.approve_proposal(actor=w.admin, proposal=proposal)
    assert Entry.objects.filter(resident=w.r1).count() == 1


def test_the_quorum_comes_from_the_configuration(in_district):
    w = in_district
    set_points_config(committee_quorum=3)
    proposal = heroic(w)
    assert proposal.quorum == 3
    for member in (w.m1, w.m2):
        proposals.approve_proposal(actor=member, proposal=proposal)
    assert balance(w.r1) == 0
    set_points_config(committee_quorum=1)  # a later change does not lower a proposal already made
    proposals.approve_proposal(actor=w.m3, proposal=proposal)
    assert balance(w.r1) == 30


def test_only_committee_members_in_scope_decide(in_district):
    w = in_district
    proposal = heroic(w)
    with pytest.raises(NotAllowed):
        proposals.approve_proposal(actor=w.staff, proposal=proposal)
    with pytest.raises(NotAllowed):
        proposals.approve_proposal(actor=w.admin, proposal=proposal)  # the administrator is not the committee
    with pytest.raises(NotAllowed) as err:
        proposals.approve_proposal(actor=w.m_c2, proposal=proposal)  # r1 lives in C01
    assert err.value.code == "out_of_scope"
    other = heroic(w, resident=w.r4, actor=w.gw3)
    proposals.approve_proposal(actor=w.m_c2, proposal=other)
    assert Vote.objects.filter(proposal=other).count() == 1


def test_a_rejection_keeps_its_reason(in_district):
    w = in_district
    proposal = heroic(w)
    proposals.approve_proposal(actor=w.m1, proposal=proposal)
    with pytest.raises(DomainError):
        proposals.reject_proposal(actor=w.m2, proposal=proposal, reason="")
    proposals.reject_proposal(actor=w.m2, proposal=proposal, reason="证据不足，请补充派出所证明")
    proposal.refresh_from_db()
    assert proposal.status == "rejected" and proposal.rejection_reason == "证据不足，请补充派出所证明"
    with pytest.raises(Conflict):
        proposals.approve_proposal(actor=w.m3, proposal=proposal)
    assert balance(w.r1) == 0 and not Entry.objects.exists()
    assert list(Vote.objects.filter(proposal=proposal).values_list("decision", flat=True)) == ["approve", "reject"]


def test_a_proposal_is_checked_against_the_rule_when_made_and_when_carried_out(in_district):
    w = in_district
    with pytest.raises(DomainError) as err:
        heroic(w, points=60)
    assert err.value.code == "out_of_range"
    with pytest.raises(DomainError) as err:
        heroic(w, evidence="")
    assert err.value.code == "evidence_required"
    with pytest.raises(DomainError):
        proposals.propose(actor=w.staff, resident=w.r1, rule="t_drunk", points=50, reason="酒驾", evidence="通报")
    deduction = proposals.propose(actor=w.staff, resident=w.r1, rule="t_drunk", points=-50, reason="醉驾",
                                 evidence="交警通报")
    rulebook.revise_rule(actor=w.admin, rule="t_drunk", effective_from=timezone.localdate() + dt.timedelta(days=1))
    proposals.approve_proposal(actor=w.m1, proposal=deduction)
    with pytest.raises(DomainError) as err:
        proposals.approve_proposal(actor=w.m2, proposal=deduction)  # the rule is not in force then any more
    assert err.value.code == "not_in_force"
    assert Vote.objects.filter(proposal=deduction).count() == 1  # the failed approval left nothing
    deduction.refresh_from_db()
    assert deduction.status == "pending"


def test_a_proposal_is_made_once_per_key_and_can_be_withdrawn(in_district):
    w = in_district
    first = heroic(w, idempotency_key="form-9")
    assert heroic(w, idempotency_key="form-9") == first
    with pytest.raises(NotAllowed):
        proposals.withdraw_proposal(actor=w.gw1, proposal=first)
    proposals.withdraw_proposal(actor=w.staff, proposal=first)
    first.refresh_from_db()
    assert first.status == "withdrawn"


def test_the_committee_queue_leaves_out_what_a_member_cannot_or_did_decide(in_district):
    w = in_district
    mine = heroic(w, actor=w.m1)
    theirs = heroic(w, resident=w.r2)
    proposals.approve_proposal(actor=w.m1, proposal=theirs)
    assert set(committee_selectors.pending_proposals()) == {mine, theirs}
    assert list(committee_selectors.pending_proposals(w.m1)) == []
    assert set(committee_selectors.pending_proposals(w.m2)) == {mine, theirs}


# --- appeals -------------------------------------------------------------------------------------------

def deduction(w):
    return ledger.post_entry(actor=w.staff, resident=w.r1, rule="t_litter", points=-3, reason="楼道乱扔垃圾")


def test_an_upheld_appeal_reverses_the_entry(in_district):
    w = in_district
    entry = deduction(w)
    assert balance(w.r1) == -3
    with pytest.raises(NotAllowed):
        appeal_services.file_appeal(actor=w.staff, entry=entry, reason="不是我")
    appeal = appeal_services.file_appeal(actor=w.res_user, entry=entry, reason="那天我不在家，有监控为证")
    with pytest.raises(Conflict):
        appeal_services.file_appeal(actor=w.res_user, entry=entry, reason="再申诉一次")
    appeal_services.uphold_appeal(actor=w.m1, appeal=appeal)
    appeal.refresh_from_db()
    assert appeal.status == "pending" and balance(w.r1) == -3
    appeal_services.uphold_appeal(actor=w.m2, appeal=appeal, note="监控显示另有其人")
    appeal.refresh_from_db()
    assert appeal.status == "upheld" and balance(w.r1) == 0
    reversal = appeal.reversal
    assert (reversal.points, reversal.reverses, reversal.source_kind, reversal.source_id, reversal.approved_by) == (
        3, entry, "appeal", appeal.pk, w.m2)
    with pytest.raises(Conflict):
        appeal_services.file_appeal(actor=w.res_user, entry=entry, reason="已经撤销了")
    with pytest.raises(Conflict):
        appeal_services.file_appeal(actor=w.res_user, entry=reversal, reason="反冲不能申诉")


def test_a_refused_appeal_is_recorded_and_the_entry_stands(in_district):
    w = in_district
    entry = deduction(w)
    appeal = appeal_services.file_appeal(actor=w.res_user, entry=entry, reason="我只放了一会儿")
    with pytest.raises(NotAllowed):
        appeal_services.refuse_appeal(actor=w.staff, appeal=appeal, reason="x")
    with pytest.raises(DomainError):
        appeal_services.refuse_appeal(actor=w.m1, appeal=appeal, reason=" ")
    appeal_services.refuse_appeal(actor=w.m1, appeal=appeal, reason="网格员现场照片清楚")
    appeal.refresh_from_db()
    assert appeal.status == "refused" and appeal.decision_reason == "网格员现场照片清楚" and appeal.reversal is None
    assert balance(w.r1) == -3
    with pytest.raises(Conflict):
        appeal_services.uphold_appeal(actor=w.m2, appeal=appeal)
    again = appeal_services.file_appeal(actor=w.res_user, entry=entry, reason="补充新证据")  # a new appeal may follow
    assert again.status == "pending"


def test_who_approved_the_entry_does_not_decide_its_appeal(in_district):
    w = in_district
    proposal = proposals.propose(
        actor=w.staff, resident=w.r1, rule="t_drunk", points=-50, reason="醉驾", evidence="交警通报")
    proposals.approve_proposal(actor=w.m1, proposal=proposal)
    proposals.approve_proposal(actor=w.m2, proposal=proposal)
    proposal.refresh_from_db()
    appeal = appeal_services.file_appeal(actor=w.res_user, entry=proposal.entry, reason="车不是我开的")
    for member in (w.m1, w.m2):
        with pytest.raises(NotAllowed) as err:
            appeal_services.uphold_appeal(actor=member, appeal=appeal)
        assert err.value.code == "maker_checker"
    appeal_services.refuse_appeal(actor=w.m3, appeal=appeal, reason="交警认定书明确")


def test_appeals_close_after_the_configured_days(in_district):
    w = in_district
    set_points_config(appeal_days=7)
    entry = deduction(w)
    with pytest.raises(Conflict) as err:
        appeal_services.file_appeal(actor=w.res_user, entry=entry, reason="太晚了",
                             now=timezone.now() + dt.timedelta(days=8))
    assert err.value.code == "appeal_too_late"
    assert not Appeal.objects.exists()
    appeal_services.file_appeal(actor=w.res_user, entry=entry, reason="还来得及", now=timezone.now() + dt.timedelta(days=6))
