"""Honour tiers from the civic balance, and the compound civility score with its ranking."""
import pytest

from modules.points.ledger import reports, scores, selectors
from modules.points.ledger import services as ledger
from modules.points.models import CompoundScore
from modules.registry import services as registry
from tests.points.conftest import set_points_config

pytestmark = pytest.mark.django_db


def test_tiers_follow_the_configured_thresholds(in_district):
    set_points_config(tiers=[{"key": "model", "name_zh": "道德模范", "min_points": 500},
                             {"key": "civil", "name_zh": "文明居民", "min_points": 50},
                             {"key": "good", "name_zh": "身边好人", "min_points": 200}])
    assert selectors.tier_for(49) is None and selectors.next_tier(49)["key"] == "civil"
    assert selectors.tier_for(50)["key"] == "civil"
    assert selectors.tier_for(499)["key"] == "good" and selectors.next_tier(499)["key"] == "model"
    assert selectors.tier_for(10_000)["key"] == "model" and selectors.next_tier(10_000) is None


def test_the_compound_score_counts_points_and_verified_reports(in_district):
    """X01 (h1, h2: r1, r2, r3) and X02 (h3: r4). Score = civic points per resident + 100 ×
    (2 × praises + 1 × reports made − 3 × offences) / households."""
    w = in_district
    ledger.post_entry(actor=w.staff, resident=w.r1, rule="t_good", points=30, reason="x")
    ledger.post_entry(actor=w.staff, resident=w.r3, rule="t_good", points=6, reason="x")
    ledger.post_entry(actor=w.admin, resident=w.r4, rule="t_good", points=20, reason="x")
    reports.award_verified_report(payload={"case_id": 1, "category": "noise", "reporter_user_id": None,
                                            "reporter_household_id": w.places["h1"].pk,
                                            "offender_household_id": w.places["h3"].pk})
    registry.create_compound(actor=None, code="X03", name="空小区", grid=w.places["g1"])
    assert scores.refresh_compound_scores() == 3
    x01 = CompoundScore.objects.get(compound__code="X01")
    x02 = CompoundScore.objects.get(compound__code="X02")
    # X01: 36 points + the reporter's own +0 (anonymous user) over 3 residents = 12; one report made by h1
    assert (x01.residents, x01.households, x01.civic_points, x01.reports_made) == (3, 2, 36, 1)
    assert float(x01.score) == 12 + 100 * 1 / 2
    # X02: r4 has 20 − 2 (the uncivil_reported deduction) = 18; one offence over one household
    assert (x02.residents, x02.civic_points, x02.offences) == (1, 18, 1)
    assert float(x02.score) == 18 - 300
    ranking = selectors.compound_ranking()
    assert [s.compound.code for s in ranking] == ["X01", "X03", "X02"] and [s.rank for s in ranking] == [1, 2, 3]
    assert [s.compound.code for s in selectors.compound_ranking(community="C02")] == ["X02"]
    ledger.post_entry(actor=w.admin, resident=w.r4, rule="t_good", points=100, reason="x")
    ledger.post_entry(actor=w.admin, resident=w.r4, rule="t_good", points=100, reason="x")
    ledger.post_entry(actor=w.admin, resident=w.r4, rule="t_good", points=100, reason="x")
    ledger.post_entry(actor=w.admin, resident=w.r4, rule="t_good", points=100, reason="x")
    scores.refresh_compound_scores()
    assert selectors.compound_ranking()[0].compound.code == "X02"  # 418 − 300 = 118 > 62
