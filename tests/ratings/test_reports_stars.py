"""Star merchants (年度星级商户): each rule's threshold, the star bands, idempotent awards, revocation,
who may award, the yearly task, and the public certificate."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from tests.conftest import client_for
from tests.ratings.conftest import add_rating
from tests.ratings.test_reports_figures import at, set_config

RULES = {"min_ratings": 4, "min_average": 4.5, "max_bad_share": 0.25, "five_star_average": 4.9}


def rate(merchant, levels, *, year=2025, key="m"):
    for i, level in enumerate(levels):
        add_rating(merchant=merchant, level=level, rater_key=f"{key}{merchant.pk}-{i}", at=at(year, 1 + i % 12, 3))


def test_each_rule_decides(in_district):
    from modules.ratings.reports.services import judge, stars_for

    # n, total, bad
    assert judge(3, 15, 0, RULES) is None  # too few
    assert judge(4, 17, 0, RULES) is None  # 4.25 < 4.5
    assert judge(4, 18, 0, RULES) == 3  # 4.5: the lower half
    assert judge(5, 23, 0, RULES) == 3  # 4.6
    assert judge(10, 47, 0, RULES) == 4  # 4.7: the upper half starts at 4.7
    assert judge(10, 49, 0, RULES) == 5  # 4.9
    assert judge(20, 98, 5, RULES) == 5  # bad share 0.25: allowed
    assert judge(20, 98, 6, RULES) is None  # 0.30 > 0.25
    assert stars_for(Decimal("4.6999"), RULES) == 3
    assert stars_for(Decimal("4.95"), {**RULES, "five_star_average": 4.0}) == 5  # five below the minimum


def test_award_is_idempotent_and_revocable(in_district):
    from kernel.errors import Conflict, DomainError, NotAllowed
    from kernel.models import AuditEntry
    from modules.ratings.reports import services
    from modules.ratings.reports.models import StarAward
    from modules.registry import services as registry

    rw = in_district
    set_config(rw.admin, stars=RULES)
    rate(rw.shop, [5, 5, 5, 5, 5])  # 5.0 -> five stars
    rate(rw.stall, [5, 4, 4, 5])  # 4.5 -> three stars
    late = registry.create_merchant(actor=None, name="晚到的店", grid=rw.places["g1"])
    rate(late, [5, 5, 5])  # too few for now
    with pytest.raises(NotAllowed):
        services.award_stars(actor=rw.shop_owner, year=2025)
    with pytest.raises(NotAllowed):
        services.award_stars(actor=rw.staff, year=2025)
    made = services.award_stars(actor=rw.admin, year=2025)
    assert {(a.merchant_id, a.stars, a.ratings, a.average) for a in made} == {
        (rw.shop.pk, 5, 5, Decimal("5.00")), (rw.stall.pk, 3, 4, Decimal("4.50"))}
    shop_award = StarAward.objects.get(merchant=rw.shop, year=2025)
    assert shop_award.rules == RULES and shop_award.awarded_by_id == rw.admin.pk
    # re-run: nothing already awarded changes, even when the figures have
    rate(rw.stall, [1, 1], key="later")
    rate(late, [5], key="more")
    again = services.award_stars(actor=rw.admin, year=2025)
    assert [a.merchant_id for a in again] == [late.pk]
    assert StarAward.objects.get(merchant=rw.stall, year=2025).stars == 3
    assert StarAward.objects.filter(year=2025).count() == 3
    assert AuditEntry.objects.filter(action="ratings.stars.award", target_id="2025").count() == 2
    # revoke: the district admin only, with a reason, once
    with pytest.raises(NotAllowed):
        services.revoke_star(actor=rw.staff, award=shop_award, reason="x")
    with pytest.raises(DomainError):
        services.revoke_star(actor=rw.admin, award=shop_award, reason="  ")
    services.revoke_star(actor=rw.admin, award=shop_award, reason="食品安全抽检不合格")
    shop_award.refresh_from_db()
    assert shop_award.revoked_at is not None and shop_award.revoked_reason == "食品安全抽检不合格"
    assert AuditEntry.objects.filter(action="ratings.stars.revoke", target_id=str(shop_award.pk)).exists()
    with pytest.raises(Conflict):
        services.revoke_star(actor=rw.admin, award=shop_award, reason="again")
    assert [a.merchant_id for a in services.award_stars(actor=rw.admin, year=2025)] == []  # revoked stays revoked
    with pytest.raises(DomainError):
        services.award_stars(actor=rw.admin, year=dt.date.today().year + 1)


def test_held_and_removed_ratings_do_not_count_for_stars(in_district):
    from modules.ratings.reports import services

    rw = in_district
    set_config(rw.admin, stars=RULES)
    rate(rw.shop, [5, 5, 5])
    add_rating(merchant=rw.shop, level=5, rater_key="held", at=at(2025, 6, 1), state="held")
    assert services.award_stars(actor=rw.admin, year=2025) == []


def test_yearly_task_awards_last_year_once(in_district):
    from modules.ratings.reports import services
    from modules.ratings.reports.models import StarAward
    from modules.ratings.reports.tasks import award_yearly_stars

    rw = in_district
    set_config(rw.admin, stars=RULES)
    rate(rw.shop, [5, 5, 5, 5], year=2025)
    assert services.award_last_year_if_due(today=dt.date(2026, 1, 1)) == 1
    assert services.award_last_year_if_due(today=dt.date(2026, 3, 1)) is None  # done for 2025
    assert StarAward.objects.get(merchant=rw.shop).year == 2025
    assert award_yearly_stars.name == "modules.ratings.reports.tasks.award_yearly_stars"


def test_certificate_page_is_public_and_unknown_token_is_404(rw):
    from modules.ratings.reports import services

    with tenant_context(rw.district):
        set_config(rw.admin, stars=RULES)
        rate(rw.shop, [5, 5, 5, 5, 4])  # 4.8: four stars
        award = services.award_stars(actor=rw.admin, year=2025)[0]
    connection.set_schema_to_public()
    anonymous = client_for(rw.district)
    page = anonymous.get(f"/ratings/stars/{award.token}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "郑记面馆" in html and 'data-stars="4"' in html and "2025" in html and 'data-testid="revoked"' not in html
    assert anonymous.get("/ratings/stars/no-such-token/").status_code == 404
    data = anonymous.get(f"/api/v1/ratings/stars/{award.token}/").json()
    assert data["merchant"] == "郑记面馆" and data["stars"] == 4 and data["revoked"] is False
    assert anonymous.get("/api/v1/ratings/stars/nope/").status_code == 404
    assert [a["token"] for a in anonymous.get("/api/v1/ratings/stars/?year=2025").json()] == [award.token]
    # revoked: the page says so; the public list leaves it out, staff see it
    admin = client_for(rw.district, rw.admin)
    assert client_for(rw.district, rw.staff).post(f"/api/v1/ratings/stars/{award.token}/revoke/",
                                                  {"reason": "x"}).status_code == 403
    assert admin.post(f"/api/v1/ratings/stars/{award.token}/revoke/", {"reason": "投诉属实"}).json()["revoked"]
    assert "投诉属实" in anonymous.get(f"/ratings/stars/{award.token}/").content.decode()
    assert anonymous.get("/api/v1/ratings/stars/?year=2025").json() == []
    assert len(admin.get("/api/v1/ratings/stars/?year=2025").json()) == 1


def test_award_through_the_api_and_the_page(rw):
    with tenant_context(rw.district):
        set_config(rw.admin, stars=RULES)
        rate(rw.shop, [5, 5, 5, 5])
    connection.set_schema_to_public()
    assert client_for(rw.district, rw.shop_owner).post("/api/v1/ratings/stars/", {"year": 2025}).status_code == 403
    assert client_for(rw.district, rw.res1).get("/ratings/staff/stars/").status_code == 403
    admin = client_for(rw.district, rw.admin)
    response = admin.post("/api/v1/ratings/stars/", {"year": 2025}, format="json")
    assert response.status_code == 201 and [a["merchant"] for a in response.json()["awarded"]] == ["郑记面馆"]
    assert admin.post("/api/v1/ratings/stars/", {"year": 2025}, format="json").json()["awarded"] == []
    assert admin.post("/api/v1/ratings/stars/", {"year": "soon"}, format="json").status_code == 400
    page = admin.get("/ratings/staff/stars/?year=2025")
    assert page.status_code == 200 and "郑记面馆" in page.content.decode()
    assert admin.post("/ratings/staff/stars/", {"year": 2025}).status_code == 302


def test_revoke_from_the_stars_page(rw):
    from modules.ratings.reports import services
    from modules.ratings.reports.models import StarAward

    with tenant_context(rw.district):
        set_config(rw.admin, stars=RULES)
        rate(rw.shop, [5, 5, 5, 5])
        award = services.award_stars(actor=rw.admin, year=2025)[0]
    connection.set_schema_to_public()
    form = {"year": 2025, "action": "revoke", "award": award.pk, "reason": "证照过期"}
    assert client_for(rw.district, rw.staff).post("/ratings/staff/stars/", form).status_code == 302
    with tenant_context(rw.district):
        assert StarAward.objects.get(pk=award.pk).revoked_at is None  # community staff may not
    admin = client_for(rw.district, rw.admin)
    assert admin.post("/ratings/staff/stars/", {**form, "award": "x"}).status_code == 404
    assert admin.post("/ratings/staff/stars/", form).status_code == 302
    with tenant_context(rw.district):
        assert StarAward.objects.get(pk=award.pk).revoked_reason == "证照过期"
    connection.set_schema_to_public()
