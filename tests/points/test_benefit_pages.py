"""The benefit pages and API: the resident's benefits page with the personal code, the provider's scan
(tier and usable benefits only — nothing personal), the public honour list, the administrator's
providers pages, the benefits API and its schema; and, in headless Chromium at phone size, the
benefits page and the verify page (screenshots in test-artifacts/)."""
from __future__ import annotations

import re
import secrets
import time

import pytest
from django.conf import settings
from django.core import signing
from django.db import connection
from django_tenants.utils import tenant_context

from modules.points.benefits import selectors as sel
from modules.points.benefits import services as benefits
from modules.points.ledger import rules as rulebook
from modules.points.ledger import services as ledger
from modules.points.models import Benefit, BenefitUse, HonourOptIn, Provider, ProviderStaff
from tests.conftest import (
    ARTIFACTS,
    admin_of,
    chromium,
    client_for,
    make_user,
    needs_chromium,
    sign_in,
)
from tests.points.conftest import id_number, set_points_config
from tests.points.test_benefits import TIERS, award, build_benefits

TOKEN_IN_PAGE = re.compile(r"/points/verify/([^/<\"]+)/")


def page_client(district, user=None, *, english: bool = False):
    client = client_for(district, user)
    if english:
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def in_tenant(world, fn):
    with tenant_context(world.pw.district):
        value = fn()
    connection.set_schema_to_public()
    return value


def token_for(world, resident) -> str:
    return in_tenant(world, lambda: sel.issue_token(resident))


@pytest.fixture
def bw(pw):
    return build_benefits(pw)


# --- the resident's page ------------------------------------------------------------------------------

def test_the_resident_sees_their_tier_the_benefits_per_tier_and_their_code(bw):
    w = bw.pw
    in_tenant(bw, lambda: award(w, w.r1, 20))
    zh = page_client(w.district, w.res_user).get("/points/benefits/")
    html = zh.content.decode()
    assert zh.status_code == 200 and 'lang="zh-hans"' in html
    assert 'data-tier="civil"' in html and "文明居民" in html and "身边好人" in html
    assert f'data-benefit="{bw.checkup.pk}" data-unlocked="1"' in html
    assert f'data-benefit="{bw.priority.pk}" data-unlocked="0"' in html
    assert "入学绿色通道" in html and "康巴什区第一小学" in html
    assert "no-store" in zh["Cache-Control"]
    token = TOKEN_IN_PAGE.search(html).group(1)  # the QR's text (its <desc>) is the verify URL
    assert "<svg" in html and in_tenant(bw, lambda: sel.read_token(token)) == w.r1.pk
    en = page_client(w.district, w.res_user, english=True).get("/points/benefits/").content.decode()
    assert 'lang="en"' in en and "Civil resident" in en and "My benefits code" in en and "30 more points" in en
    assert "Unlocked" in en and "Next tier" in en


def test_the_code_refreshes_and_needs_a_tier(bw):
    w = bw.pw
    client = page_client(w.district, w.res_user)
    assert client.get("/points/benefits/code/").json()["error"]["code"] == "no_tier"
    html = client.get("/points/benefits/").content.decode()
    assert 'data-testid="no-code"' in html and "<svg" not in html
    in_tenant(bw, lambda: award(w, w.r1, 20))
    first, second = client.get("/points/benefits/code/"), client.get("/points/benefits/code/")
    assert first.status_code == 200 and "no-store" in first["Cache-Control"]
    a, b = first.json(), second.json()
    assert a["token"] != b["token"] and a["svg"].startswith("<svg") and a["refresh_in"] == 60
    assert a["url"].endswith(f"/points/verify/{a['token']}/") and a["url"].startswith("https://")
    assert in_tenant(bw, lambda: sel.read_token(b["token"])) == w.r1.pk
    stranger = make_user(w.district, "b_stranger", "resident")
    assert page_client(w.district, stranger).get("/points/benefits/code/").status_code == 404
    assert page_client(w.district, stranger).get("/points/benefits/").status_code == 404
    assert page_client(w.district).get("/points/benefits/").status_code == 302  # sign in first


def test_the_resident_chooses_the_honour_list_on_the_page(bw):
    w = bw.pw
    client = page_client(w.district, w.res_user, english=True)
    assert client.post("/points/benefits/", {"public": "1", "show_name": "anonymous"}).status_code == 302
    row = in_tenant(bw, lambda: HonourOptIn.objects.get(resident=w.r1))
    assert (row.public, row.show_name) == (True, "anonymous")
    client.post("/points/benefits/", {"show_name": "masked"})
    row = in_tenant(bw, lambda: HonourOptIn.objects.get(resident=w.r1))
    assert (row.public, row.show_name) == (False, "masked")
    bad = client.post("/points/benefits/", {"public": "1", "show_name": "nickname"}, follow=True)
    assert "masked or anonymous" in bad.content.decode()
    assert in_tenant(bw, lambda: HonourOptIn.objects.get(resident=w.r1).public) is False


# --- the provider's scan ---------------------------------------------------------------------------------

def _absent(html: str, value: str) -> bool:
    return re.search(rf"(?<![\w.#-]){re.escape(value)}(?!\w)", html) is None


def test_the_verify_page_shows_the_tier_and_usable_benefits_and_nothing_personal(bw):
    w = bw.pw
    in_tenant(bw, lambda: award(w, w.r1, 88))  # good
    token = token_for(bw, w.r1)
    for english in (False, True):
        response = page_client(w.district, bw.nurse, english=english).get(f"/points/verify/{token}/")
        html = response.content.decode()
        assert response.status_code == 200 and 'data-tier="good"' in html
        assert ("Good neighbour" if english else "身边好人") in html
        assert "挂号优先" in html and "免费体检" in html and "入学绿色通道" not in html  # the clinic's only
        for personal in ("张一", "13912345601", "139****5601", id_number(1), "150602********", "88"):
            assert _absent(html, personal), personal
        assert "no-store" in response["Cache-Control"]
    client = page_client(w.district, bw.nurse, english=True)
    done = client.post(f"/points/verify/{token}/", {"benefit": bw.checkup.pk}, follow=True)
    assert done.redirect_chain[-1][0] == f"/points/verify/{token}/" and "Recorded: 挂号优先" in done.content.decode()
    again = client.post(f"/points/verify/{token}/", {"benefit": bw.checkup.pk}, follow=True).content.decode()
    assert "Already recorded" in again and "<b>1</b> left" in again
    assert f'data-testid="recorded-{bw.checkup.pk}"' in again and f'data-testid="record-{bw.checkup.pk}"' not in again
    assert f'data-testid="record-{bw.priority.pk}"' in again  # not recorded yet with this code
    assert in_tenant(bw, lambda: BenefitUse.objects.filter(benefit=bw.checkup).count()) == 1
    assert client.post(f"/points/verify/{token}/", {"benefit": "x"}).status_code == 400
    refused = client.post(f"/points/verify/{token}/", {"benefit": bw.enrol.pk})  # the school's benefit
    assert refused.status_code == 403 and "入学绿色通道" not in refused.content.decode()
    desk = client.get("/points/verify/").content.decode()
    assert "挂号优先" in desk and "Good neighbour" in desk and "张一" not in desk


def test_the_verify_page_refuses_strangers_and_bad_codes(bw, monkeypatch):
    w = bw.pw
    in_tenant(bw, lambda: award(w, w.r1, 20))
    token = token_for(bw, w.r1)
    assert page_client(w.district).get(f"/points/verify/{token}/").status_code == 302  # sign in first
    for user in (bw.outsider, w.res_user, w.admin):
        response = page_client(w.district, user, english=True).get(f"/points/verify/{token}/")
        html = response.content.decode()
        assert response.status_code == 403 and "Only the staff of a benefit provider" in html
        assert "Civil resident" not in html and "挂号优先" not in html and 'data-tier' not in html
        post = page_client(w.district, user).post(f"/points/verify/{token}/", {"benefit": bw.checkup.pk})
        assert post.status_code == 403
    real = time.time
    with monkeypatch.context() as m:
        m.setattr(signing.time, "time", lambda: real() - 600)
        expired = token_for(bw, w.r1)
    nurse = page_client(w.district, bw.nurse, english=True)
    late = nurse.get(f"/points/verify/{expired}/")
    assert late.status_code == 410 and "expired" in late.content.decode() and "Civil resident" not in late.content.decode()
    assert nurse.post(f"/points/verify/{expired}/", {"benefit": bw.checkup.pk}).status_code == 410
    forged = token[:-3] + ("abc" if not token.endswith("abc") else "xyz")
    assert nurse.get(f"/points/verify/{forged}/").status_code == 400
    assert nurse.get("/points/verify/hello/").status_code == 400
    low = nurse.post(f"/points/verify/{token}/", {"benefit": bw.priority.pk}, follow=True).content.decode()
    assert "for residents of the tier Good neighbour" in low
    assert in_tenant(bw, lambda: BenefitUse.objects.count()) == 0
    assert page_client(w.district, bw.outsider).get("/points/verify/").status_code == 403


def test_a_provider_of_another_district_cannot_read_a_code(bw, laixi):
    w = bw.pw
    in_tenant(bw, lambda: award(w, w.r1, 20))
    token = token_for(bw, w.r1)
    clerk = make_user(laixi, "b_laixi_clerk")
    with tenant_context(laixi):
        admin = admin_of(laixi)
        set_points_config(tiers=TIERS)
        shop = benefits.create_provider(actor=admin, name="莱西超市", kind="shop")
        benefits.add_provider_staff(actor=admin, provider=shop, user=clerk)
        perk = benefits.create_benefit(actor=admin, provider=shop, title="九折", min_tier="civil")
    connection.set_schema_to_public()
    client = page_client(laixi, clerk, english=True)
    response = client.get(f"/points/verify/{token}/")
    assert response.status_code == 400 and "not a valid personal code of this district" in response.content.decode()
    assert client.post(f"/points/verify/{token}/", {"benefit": perk.pk}).status_code == 400
    api = client_for(laixi, clerk).post("/api/v1/points/verify/", {"token": token}, format="json")
    assert api.status_code == 400 and api.json()["error"]["code"] == "code_invalid"


# --- the honour list page -----------------------------------------------------------------------------------

def test_the_honour_page_lists_only_residents_who_opted_in(bw):
    w = bw.pw

    def setup():
        award(w, w.r1, 120)
        award(w, w.r2, 60)  # not opted in
        benefits.set_honour_opt_in(actor=w.res_user, public=True)

    in_tenant(bw, setup)
    for english in (False, True):
        html = page_client(w.district, english=english).get("/points/honour/").content.decode()
        assert html.count('data-testid="honour-row"') == 1 and "张*" in html and "张一" not in html
        assert "张二" not in html and "120" in html and ("道德模范" if not english else "Moral model") in html
        assert "康和社区" in html
    empty = page_client(w.district).get("/points/honour/?community=C02").content.decode()
    assert 'data-testid="honour-row"' not in empty


def test_the_honour_page_ranks_compounds_by_civility_score(bw):
    from modules.points.ledger import scores as points

    w = bw.pw
    before = page_client(w.district).get("/points/honour/").content.decode()
    assert 'data-testid="compound-row"' not in before  # not computed yet
    in_tenant(bw, lambda: (award(w, w.r1, 120), points.refresh_compound_scores()))
    html = page_client(w.district).get("/points/honour/").content.decode()
    assert html.count('data-testid="compound-row"') >= 1 and "小区文明积分榜" in html
    ranking = html[html.index('data-testid="compound-ranking"'):]
    assert "康和小区" in ranking[:ranking.index("</ol>")]


# --- the administrator's pages -----------------------------------------------------------------------

def test_the_administrator_manages_providers_staff_and_benefits(bw):
    w = bw.pw
    make_user(w.district, "b_new_clerk")
    admin = page_client(w.district, w.admin, english=True)
    listing = admin.get("/points/providers/").content.decode()
    assert "康巴什区人民医院" in listing and "2 benefits" in listing and "1 staff member" in listing
    bad = admin.post("/points/providers/", {"name": "", "kind": "shop"})
    assert bad.status_code == 400 and "Required." in bad.content.decode()
    assert in_tenant(bw, lambda: Provider.objects.count()) == 2
    made = admin.post("/points/providers/", {"name": "鄂尔多斯大剧院", "kind": "culture", "address": "文化西路",
                                             "phone": "0477-8888888"})
    theatre = in_tenant(bw, lambda: Provider.objects.get(name="鄂尔多斯大剧院"))
    url = f"/points/providers/{theatre.pk}/"
    assert made.status_code == 302 and made["Location"] == url
    unknown = admin.post(url, {"action": "staff_add", "username": "nobody-here"})
    assert unknown.status_code == 400 and "There is no user nobody-here" in unknown.content.decode()
    assert admin.post(url, {"action": "staff_add", "username": "b_new_clerk"}).status_code == 302
    bad_benefit = admin.post(url, {"action": "benefit_add", "title": "演出八折", "min_tier": "platinum",
                                   "limit_count": "2", "limit_period": "month"})
    assert bad_benefit.status_code == 400 and "One of the district" in bad_benefit.content.decode()
    assert in_tenant(bw, lambda: theatre.benefits.count()) == 0
    assert admin.post(url, {"action": "benefit_add", "title": "演出八折", "min_tier": "civil", "limit_count": "2",
                            "limit_period": "month"}).status_code == 302
    perk = in_tenant(bw, lambda: Benefit.objects.get(title="演出八折"))
    assert (perk.limit_count, perk.limit_period, perk.min_tier) == (2, "month", "civil")
    assert admin.post(url, {"action": "benefit_update", "benefit": perk.pk, "title": "演出七折", "min_tier": "good",
                            "limit_count": "", "limit_period": "month", "active": "1"}).status_code == 302
    perk = in_tenant(bw, lambda: Benefit.objects.get(pk=perk.pk))
    assert (perk.title, perk.min_tier, perk.limit_count, perk.limit_period, perk.active) == (
        "演出七折", "good", None, "none", True)
    page = admin.get(url).content.decode()
    assert "演出七折" in page and "b_new_clerk" in page and "Good neighbour" in page
    clerk_id = in_tenant(bw, lambda: ProviderStaff.objects.get(provider=theatre).user_id)
    assert admin.post(url, {"action": "staff_remove", "user": clerk_id}).status_code == 302
    assert in_tenant(bw, lambda: ProviderStaff.objects.filter(provider=theatre).count()) == 0
    assert admin.post(url, {"action": "update", "name": "鄂尔多斯大剧院", "kind": "culture"}).status_code == 302
    assert in_tenant(bw, lambda: Provider.objects.get(pk=theatre.pk).active) is False  # unchecked: inactive
    zh = page_client(w.district, w.admin).get(url).content.decode()
    assert 'lang="zh-hans"' in zh and "鄂尔多斯大剧院" in zh
    for user in (w.staff, bw.nurse, w.res_user):
        assert page_client(w.district, user).get("/points/providers/").status_code == 403
        assert page_client(w.district, user).post(url, {"action": "staff_add", "username": "p_staff"}).status_code == 403


# --- the API --------------------------------------------------------------------------------------------

API = "/api/v1/points/"


def test_api_a_residents_benefits(bw):
    w = bw.pw
    in_tenant(bw, lambda: award(w, w.r1, 20))
    client = client_for(w.district, w.res_user)
    body = client.get(f"{API}benefits/").json()
    assert body["count"] == 3 and body["tier"]["key"] == "civil" and body["next_tier"]["key"] == "good"
    assert body["to_next"] == 30 and "min_points" not in body["tier"]
    rows = {r["id"]: r for r in body["results"]}
    assert rows[bw.checkup.pk]["unlocked"] and rows[bw.checkup.pk]["remaining"] == 2
    assert rows[bw.priority.pk]["unlocked"] is False and rows[bw.priority.pk]["remaining"] is None
    assert rows[bw.checkup.pk]["provider"]["name"] == "康巴什区人民医院"
    only = client.get(f"{API}benefits/?unlocked=1&page_size=1").json()
    assert only["count"] == 2 and len(only["results"]) == 1 and only["next"]
    stranger = make_user(w.district, "b_api_stranger", "resident")
    missing = client_for(w.district, stranger).get(f"{API}benefits/")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "no_resident"
    assert client_for(w.district).get(f"{API}benefits/").status_code in (401, 403)


def test_api_verify_and_record_uses(bw):
    w = bw.pw
    in_tenant(bw, lambda: award(w, w.r1, 20))
    token = token_for(bw, w.r1)
    nurse = client_for(w.district, bw.nurse)
    seen = nurse.post(f"{API}verify/", {"token": token}, format="json").json()
    assert seen["tier"]["key"] == "civil" and [p["id"] for p in seen["providers"]] == [bw.clinic.pk]
    assert [b["id"] for b in seen["providers"][0]["benefits"]] == [bw.checkup.pk]
    assert "张一" not in str(seen) and "points" not in str(seen)
    first = nurse.post(f"{API}uses/", {"token": token, "benefit": bw.checkup.pk, "idempotency_key": "k1"},
                       format="json")
    assert first.status_code == 201 and first.json()["repeated"] is False and first.json()["tier"] == "civil"
    again = nurse.post(f"{API}uses/", {"token": token, "benefit": bw.checkup.pk, "idempotency_key": "k1"},
                       format="json")
    assert again.status_code == 200 and again.json()["repeated"] is True and again.json()["id"] == first.json()["id"]
    low = nurse.post(f"{API}uses/", {"token": token, "benefit": bw.priority.pk}, format="json")
    assert low.status_code == 409 and low.json()["error"]["code"] == "tier_too_low"
    other = nurse.post(f"{API}uses/", {"token": token, "benefit": bw.enrol.pk}, format="json")
    assert other.status_code == 403 and other.json()["error"]["code"] == "not_provider_staff"
    missing = nurse.post(f"{API}uses/", {"benefit": bw.checkup.pk}, format="json")
    assert missing.status_code == 400 and "token" in missing.json()["error"]["fields"]
    assert nurse.post(f"{API}uses/", {"token": token, "benefit": 99999}, format="json").status_code == 404
    stranger = client_for(w.district, bw.outsider).post(f"{API}verify/", {"token": token}, format="json")
    assert stranger.status_code == 403 and stranger.json()["error"]["code"] == "not_provider_staff"
    forged = nurse.post(f"{API}verify/", {"token": token + "x"}, format="json")
    assert forged.status_code == 400 and forged.json()["error"]["code"] == "code_invalid"
    assert in_tenant(bw, lambda: BenefitUse.objects.count()) == 1


def test_api_honour_list_is_public_and_paginated(bw):
    w = bw.pw
    resident3 = make_user(w.district, "b_api_r3", "resident")

    def setup():
        from modules.registry import services as registry

        award(w, w.r1, 120)
        award(w, w.r3, 60)
        award(w, w.r2, 90)  # not opted in
        registry.link_account(actor=None, resident=w.r3, user=resident3)
        benefits.set_honour_opt_in(actor=w.res_user, public=True)
        benefits.set_honour_opt_in(actor=resident3, public=True, show_name="anonymous")

    in_tenant(bw, setup)
    anonymous = client_for(w.district)
    body = anonymous.get(f"{API}honour/?page_size=1").json()
    assert body["count"] == 2 and body["next"] and body["results"] == [
        {"rank": 1, "name": "张*", "community": "康和社区", "tier": "model", "tier_name": "Moral model", "points": 120}]
    second = anonymous.get(f"{API}honour/?page_size=1&page=2").json()["results"]
    assert second[0]["rank"] == 2 and second[0]["name"] == "A resident"
    assert anonymous.get(f"{API}honour/?community=C02").json()["count"] == 0


def test_api_providers_and_benefits_for_the_administrator(bw):
    w = bw.pw
    make_user(w.district, "b_api_clerk")
    admin = client_for(w.district, w.admin)
    listing = admin.get(f"{API}providers/").json()
    assert listing["count"] == 2 and {p["name"] for p in listing["results"]} == {"康巴什区人民医院", "康巴什区第一小学"}
    clinic = next(p for p in listing["results"] if p["kind"] == "clinic")
    assert [s["username"] for s in clinic["staff"]] == ["b_nurse"] and len(clinic["benefits"]) == 2
    made = admin.post(f"{API}providers/", {"name": "康巴什区税务局", "kind": "tax"}, format="json")
    assert made.status_code == 201
    pid = made.json()["id"]
    bad = admin.post(f"{API}providers/", {"name": "x", "kind": "bank"}, format="json")
    assert bad.status_code == 400 and "kind" in bad.json()["error"]["fields"]
    assert admin.patch(f"{API}providers/{pid}/", {"address": "康巴什区政务中心"}, format="json").json()["address"] == (
        "康巴什区政务中心")
    staff = admin.post(f"{API}providers/{pid}/staff/", {"username": "b_api_clerk"}, format="json")
    assert staff.status_code == 201
    assert admin.post(f"{API}providers/{pid}/staff/", {"username": "b_api_clerk"}, format="json").status_code == 200
    perk = admin.post(f"{API}benefits/", {"provider": pid, "title": "纳税服务绿色通道", "min_tier": "good"},
                      format="json")
    assert perk.status_code == 201 and perk.json()["limit_period"] == "none"
    bad = admin.post(f"{API}benefits/", {"provider": pid, "title": "x", "min_tier": "gold"}, format="json")
    assert bad.status_code == 400 and "min_tier" in bad.json()["error"]["fields"]
    changed = admin.patch(f"{API}benefits/{perk.json()['id']}/", {"limit_count": 3, "limit_period": "year"},
                          format="json").json()
    assert (changed["limit_count"], changed["limit_period"]) == (3, "year")
    assert admin.delete(f"{API}providers/{pid}/staff/{staff.json()['user_id']}/").status_code == 204
    assert admin.delete(f"{API}providers/{pid}/staff/{staff.json()['user_id']}/").status_code == 404
    for user in (w.staff, bw.nurse, w.res_user):
        client = client_for(w.district, user)
        assert client.get(f"{API}providers/").status_code == 403
        assert client.post(f"{API}benefits/", {"provider": pid, "title": "y", "min_tier": "civil"},
                           format="json").status_code == 403
        assert client.patch(f"{API}benefits/{bw.checkup.pk}/", {"title": "z"}, format="json").status_code == 403


def test_the_openapi_schema_documents_the_benefits_api(bw):
    schema = client_for(bw.pw.district, bw.pw.admin).get("/api/schema/?format=json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {f"{API}benefits/", f"{API}benefits/{{id}}/", f"{API}honour/", f"{API}verify/", f"{API}uses/",
            f"{API}providers/", f"{API}providers/{{id}}/", f"{API}providers/{{id}}/staff/",
            f"{API}providers/{{id}}/staff/{{user_id}}/"} <= set(paths)
    honour = paths[f"{API}honour/"]["get"]
    assert {p["name"] for p in honour["parameters"]} >= {"page", "page_size", "community"}


# --- phone-sized screenshots ------------------------------------------------------------------------------

PHONE = {"viewport": {"width": 360, "height": 740}, "locale": "zh-CN", "is_mobile": True, "has_touch": True,
         "device_scale_factor": 2}


def _fits_the_phone(page) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 360, f"{page.url} is {width}px wide"


@pytest.mark.browser
@needs_chromium
def test_the_benefits_page_and_the_verify_page_on_a_phone(live_server_url, django_db_blocker):
    """Committed in the "worker" district (ledger rows are never deleted; names are unique per run)."""
    from modules.registry import services as registry
    from tenants.models import District

    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        district = District.objects.get(slug="worker")
        tag = secrets.token_hex(3)
        resident_user = make_user(district, f"b_res_{tag}", "resident")
        clerk = make_user(district, f"b_desk_{tag}")
        with tenant_context(district):
            admin = admin_of(district)
            set_points_config(tiers=TIERS)
            resident = registry.register_resident(actor=None, name=f"测试{tag}")
            registry.link_account(actor=None, resident=resident, user=resident_user)
            rulebook.create_rule(actor=admin, code=f"t_pb_{tag}", name_zh="好人好事", direction="add",
                                 category="test", min_points=1, max_points=100)
            ledger.post_entry(actor=admin, resident=resident, rule=f"t_pb_{tag}", points=64, reason="好人好事")
            clinic = benefits.create_provider(actor=admin, name=f"康巴什区人民医院{tag}", kind="clinic")
            school = benefits.create_provider(actor=admin, name=f"康巴什区第一小学{tag}", kind="school")
            benefits.add_provider_staff(actor=admin, provider=clinic, user=clerk)
            benefits.create_benefit(actor=admin, provider=clinic, title="挂号就诊优先", min_tier="civil",
                                    description="门诊挂号、取药优先办理", limit_count=2, limit_period="month")
            benefits.create_benefit(actor=admin, provider=clinic, title="免费健康体检", min_tier="model",
                                    description="每年一次常规体检", limit_count=1, limit_period="year")
            benefits.create_benefit(actor=admin, provider=school, title="入学报名绿色通道", min_tier="good",
                                    description="子女入学报名优先审核")
        connection.set_schema_to_public()
        server = live_server_url.format(host="worker.localhost")
        ARTIFACTS.mkdir(exist_ok=True)
        with chromium() as browser:
            me = browser.new_context(**PHONE).new_page()
            sign_in(me, server, resident_user.username, "/points/benefits/")
            assert me.get_by_test_id("my-tier").get_attribute("data-tier") == "good"
            assert me.locator("#paycode svg").count() == 1
            first = me.locator("#paycode desc").text_content()
            me.click("#paycode-refresh")  # the code changes (as it does every minute)
            me.wait_for_function("(old) => document.querySelector('#paycode desc').textContent !== old", arg=first)
            url = me.locator("#paycode desc").text_content()
            _fits_the_phone(me)
            me.screenshot(path=str(ARTIFACTS / "points-benefits.png"), full_page=True)
            path = url.split("://", 1)[1].split("/", 1)[1]
            desk = browser.new_context(**PHONE).new_page()
            sign_in(desk, server, clerk.username, f"/{path}")
            assert desk.get_by_test_id("verified-tier").get_attribute("data-tier") == "good"
            assert desk.get_by_test_id("usable").count() == 1  # the model tier's check-up is not usable
            assert f"测试{tag}" not in desk.content()
            _fits_the_phone(desk)
            desk.screenshot(path=str(ARTIFACTS / "points-verify.png"), full_page=True)
            desk.get_by_test_id("usable").get_by_role("button").click()
            desk.wait_for_selector(".messages .success")
            assert "1" in desk.get_by_test_id("usable").locator(".meta b").inner_text()
            assert desk.get_by_test_id("usable").locator(".done").count() == 1  # a second use: a new code
            _fits_the_phone(desk)
            desk.screenshot(path=str(ARTIFACTS / "points-verify-recorded.png"), full_page=True)
        with tenant_context(district):
            assert BenefitUse.objects.filter(resident=resident).count() == 1
        connection.set_schema_to_public()
