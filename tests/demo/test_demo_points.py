"""The demo's points: a ledger over six months made through the services, balances across the tiers,
batches done and waiting, proposals and appeals waiting and decided, the demo resident's own history —
seeded once (a second run adds nothing), and every balance equal to the sum of its entries."""
import pytest
from django.contrib.auth import get_user_model
from django.db.models import Count, Min
from django.utils.module_loading import import_string
from django_tenants.utils import tenant_context

from console.demo import DISTRICTS, seed_district
from modules.points.committee import selectors as committee_selectors
from modules.points.demo.ledger import DRILL_TITLE, seed_points
from modules.points.ledger import rules as rulebook
from modules.points.ledger import selectors
from modules.points.ledger import services as ledger
from modules.points.models import Appeal, Balance, Batch, Entry, Proposal, RuleVersion, Vote
from modules.points.spec import SPEC
from modules.registry.models import Resident
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def snapshot() -> dict:
    return {"entries": Entry.objects.count(), "proposals": Proposal.objects.count(), "votes": Vote.objects.count(),
            "batches": Batch.objects.count(), "appeals": Appeal.objects.count(),
            "points": sorted(Balance.objects.values_list("resident_id", "kind", "points"))}


def check_demo_ledger(quorum: int) -> None:
    assert selectors.ledger_mismatches() == []
    tiers = selectors.tiers()
    civic = list(Balance.objects.filter(kind="civic").values_list("points", flat=True))
    residents = Resident.objects.filter(memberships__ended_at__isnull=True).distinct().count()
    assert len([p for p in civic if p]) >= residents // 2  # a good share of the residents
    reached = {(selectors.tier_for(p) or {}).get("key") for p in civic}
    assert {t["key"] for t in tiers} | {None} == reached  # every tier, and below the first
    assert min(civic) < 0  # the offenders
    today = ledger.local_today()
    oldest = Entry.objects.aggregate(d=Min("occurred_on"))["d"]
    assert 120 <= (today - oldest).days <= 200 and not Entry.objects.filter(occurred_on__gt=today).exists()
    # batches: one done (the fire drill, a whole community), one waiting for the committee
    drill = Batch.objects.get(title=DRILL_TITLE)
    assert (drill.status, drill.target_source, drill.posted_count) == ("done", "place", drill.target_count)
    assert drill.approved_by is not None and drill.target_count > 10
    assert Batch.objects.filter(status="awaiting", proposal__status="pending").count() == 1
    # the committee: a drink-driving −50 approved, proposals waiting (one half approved), one rejected
    drunk = Entry.objects.get(rule__code="drunk_driving")
    assert drunk.points == -50 and drunk.source_kind == "proposal" and drunk.approved_by is not None
    approved = Proposal.objects.filter(status="approved", kind="single").annotate(n=Count("votes"))
    assert approved.exists() and {p.n for p in approved} == {quorum}
    waiting = Proposal.objects.filter(status="pending", kind="single")
    assert 2 <= waiting.count() <= 3 and waiting.filter(votes__isnull=False).exists()
    committee = get_user_model().objects.get(username="committee")
    assert committee_selectors.pending_proposals(committee).count() >= 3  # the single ones and the batch
    assert Proposal.objects.filter(status="rejected").exclude(rejection_reason="").exists()
    # the demo resident: a history of several kinds, an appeal waiting and one refused, a correction
    me = Resident.objects.get(user__username="resident")
    mine = Entry.objects.filter(resident=me)
    assert mine.count() >= 8
    assert {"manual", "proposal", "batch", "correction"} <= set(mine.values_list("source_kind", flat=True))
    assert mine.filter(points__lt=0, reverses__isnull=True).count() >= 2
    appeals = Appeal.objects.filter(resident=me)
    assert sorted(appeals.values_list("status", flat=True)) == ["pending", "refused"]
    assert appeals.get(status="refused").decision_reason
    assert selectors.tier_for(selectors.balances(me)["civic"]) is not None
    assert Appeal.objects.filter(status="pending").count() == 1


def test_kangbashi_demo_points_with_its_own_rulebook():
    """Kangbashi's template (51 + 33 rules) and configuration (quorum 3, material points)."""
    spec = {**DISTRICTS[0], "slug": "demo-pts-kbs", "places": "kangbashi",
            "modules": [m for m in DISTRICTS[0]["modules"] if m != "points"]}
    district = seed_district(spec)  # people, places and cases; the points rulebook comes next
    with tenant_context(district):
        from kernel.services import update_module_config

        admin = get_user_model().objects.get(username="admin")
        update_module_config(actor=admin, module_key="points", data={**ledger.config(), **spec["config"]["points"]})
        rulebook.seed(template="kangbashi")
        assert RuleVersion.objects.filter(is_current=True).count() == 84
        seed_points(admin, rng_seed=district.slug)
        check_demo_ledger(quorum=3)
        assert Entry.objects.filter(rule__code="honour_civilised_family").exists()  # 文明家庭
        assert Entry.objects.filter(rule__code="disorderly_parking").exists()  # 违停
        me = Resident.objects.get(user__username="resident")
        assert Balance.objects.filter(resident=me, kind="material", points__gt=0).exists()
        before = snapshot()
        seed_points(admin, rng_seed=district.slug)
        assert snapshot() == before


def test_laixi_demo_points_through_seed_demo_twice():
    """The whole demo seed (Laixi: the default rulebook, quorum 2, its own tiers), run twice."""
    spec = {**DISTRICTS[2], "slug": "demo-pts-lx", "places": "laixi"}
    district = seed_district(spec)
    with tenant_context(district):
        check_demo_ledger(quorum=2)
        before = snapshot()
    seed_district(spec)
    with tenant_context(district):
        assert snapshot() == before
        # the module's own hook (ModuleSpec.demo), as the console calls it: nothing more the third time
        admin = get_user_model().objects.get(username="admin")
        import_string(SPEC.demo)(district=district, admin=admin, rng_seed=district.slug)
        assert snapshot() == before
        resident = get_user_model().objects.get(username="resident")
        committee = get_user_model().objects.get(username="committee")
    body = client_for(district, resident).get("/api/v1/points/me/?page_size=50").json()
    assert body["count"] >= 8 and body["tier"] and body["next_tier"]
    assert any(e["reversed"] for e in body["history"]) and any(e["reverses"] for e in body["history"])
    appeals = client_for(district, resident).get("/api/v1/points/appeals/").json()
    assert sorted(a["status"] for a in appeals["results"]) == ["pending", "refused"]
    queue = client_for(district, committee).get("/api/v1/points/proposals/?to_decide=true").json()
    assert queue["count"] >= 3
