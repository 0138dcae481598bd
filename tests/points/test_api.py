"""The read API: a resident's balance, tier and history; the rulebook; the compound ranking."""
import pytest
from django_tenants.utils import tenant_context

from modules.points.ledger import rules as rulebook
from modules.points.ledger import scores
from modules.points.ledger import services as ledger
from tests.conftest import client_for, make_user
from tests.points.conftest import set_points_config

pytestmark = pytest.mark.django_db


def test_a_resident_sees_why_their_balance_is_what_it_is(pw):
    w = pw
    with tenant_context(w.district):
        set_points_config(tiers=[{"key": "civil", "name_zh": "文明居民", "name_en": "Civil", "min_points": 10},
                                 {"key": "good", "name_zh": "身边好人", "min_points": 100}])
        first = ledger.post_entry(actor=w.staff, resident=w.r1, rule="t_good", points=20, reason="扶老人过马路",
                                    evidence="路人视频")
        ledger.post_entry(actor=w.staff, resident=w.r1, rule="t_litter", points=-3, reason="乱扔垃圾")
        ledger.reverse_entry(actor=w.m1, entry=first, reason="事迹不实")
        ledger.post_entry(actor=w.staff, resident=w.r1, rule="t_good", points=15, reason="拾金不昧")
    body = client_for(w.district, w.res_user).get("/api/v1/points/me/?page_size=2").json()
    assert body["resident"]["name"] == "张一" and body["balances"] == {"civic": 12}
    assert body["tier"]["key"] == "civil" and body["next_tier"]["key"] == "good"
    assert body["count"] == 4 and len(body["history"]) == 2
    newest = body["history"][0]
    assert (newest["points"], newest["reason"], newest["rule"], newest["rule_name"], newest["posted_by"]) == (
        15, "拾金不昧", "t_good", "好人好事", "p_staff")
    reversal = body["history"][1]
    assert reversal["points"] == -20 and reversal["reverses"] == first.pk
    older = client_for(w.district, w.res_user).get("/api/v1/points/me/?page=2&page_size=2").json()["history"]
    assert [e["points"] for e in older] == [-3, 20] and older[1]["reversed"] is True
    assert older[1]["evidence"] == "路人视频" and older[1]["rule_version"] == 1


def test_me_needs_a_linked_resident_and_a_district_with_points(pw, dongsheng):
    w = pw
    stranger = make_user(w.district, "p_stranger", "resident")
    response = client_for(w.district, stranger).get("/api/v1/points/me/")
    assert response.status_code == 404 and response.json()["error"]["code"] == "no_resident"
    assert client_for(w.district).get("/api/v1/points/me/").status_code in (401, 403)
    other = make_user(dongsheng, "p_dong", "resident")
    assert client_for(dongsheng, other).get("/api/v1/points/me/").status_code == 404  # points is off there
    bad = client_for(w.district, w.res_user).get("/api/v1/points/me/?kind=gold")
    assert bad.status_code == 400 and "kind" in bad.json()["error"]["fields"]


def test_the_rulebook_lists_rules_in_force(pw):
    w = pw
    with tenant_context(w.district):
        rulebook.revise_rule(actor=w.admin, rule="t_litter", effective_to="2020-01-01")
    client = client_for(w.district, w.res_user)
    codes = {r["code"] for r in client.get("/api/v1/points/rules/?page_size=200").json()["results"]}
    assert "t_good" in codes and "heroic_act" in codes and "t_litter" not in codes
    every = {r["code"] for r in client.get("/api/v1/points/rules/?all=1&page_size=200").json()["results"]}
    assert "t_litter" in every
    deducts = client.get("/api/v1/points/rules/?direction=deduct&page_size=200").json()["results"]
    assert deducts and all(r["direction"] == "deduct" for r in deducts)
    heroic = next(r for r in client.get("/api/v1/points/rules/?page_size=200").json()["results"]
                  if r["code"] == "heroic_act")
    assert (heroic["min_points"], heroic["max_points"], heroic["origin"]) == (20, 50, "report")


def test_the_compound_ranking(pw):
    w = pw
    with tenant_context(w.district):
        ledger.post_entry(actor=w.admin, resident=w.r4, rule="t_good", points=50, reason="x")
        scores.refresh_compound_scores()
    rows = client_for(w.district, w.res_user).get("/api/v1/points/ranking/").json()["results"]
    assert [r["compound"] for r in rows] == ["X02", "X01"] and rows[0]["rank"] == 1
