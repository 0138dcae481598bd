"""The reports' pages and API: who sees what (staff rankings and trends; an official their own; the
department head their people; a merchant their own), the figures they show are the selectors', the
Excel export opens and has the rows, the charts use the shipped ECharts (never a CDN), and the module
switched off answers 404."""
from __future__ import annotations

import datetime as dt
import io
import re

from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from tests.conftest import client_for
from tests.ratings.conftest import add_rating
from tests.ratings.test_reports_figures import set_config

THIS_YEAR = timezone.localdate().year


def _now_ish(day: int = 1) -> dt.datetime:
    today = timezone.localdate()
    return timezone.make_aware(dt.datetime(today.year, today.month, min(day, today.day), 9, 0))


def _seed(rw, *, minimum: int = 2):
    with tenant_context(rw.district):
        set_config(rw.admin, min_ratings_for_ranking=minimum)
        for i, level in enumerate([5, 4, 5]):
            add_rating(official=rw.o1, level=level, scores={"duty": level}, rater_key=f"o1-{i}", at=_now_ish(),
                       comment="态度很好" if i == 0 else "")
        for i, level in enumerate([2, 3]):
            add_rating(official=rw.o2, level=level, scores={"duty": level}, rater_key=f"o2-{i}", at=_now_ish(),
                       comment="办事拖拉", rater=rw.res2 if i == 0 else None)
        add_rating(official=rw.o3, level=5, rater_key="o3-0", at=_now_ish())  # one rating: unranked
        add_rating(merchant=rw.shop, level=4, scores={"attitude": 4}, rater_key="s-0", at=_now_ish(),
                   comment="面很好吃")
        add_rating(merchant=rw.stall, level=1, rater_key="t-0", at=_now_ish(), comment="太贵")
    connection.set_schema_to_public()


def test_rankings_and_trends_are_for_staff(rw):
    _seed(rw)
    for user in (rw.res1, rw.o1_user, rw.shop_owner):
        client = client_for(rw.district, user)
        assert client.get("/ratings/staff/rankings/").status_code == 403
        assert client.get("/ratings/staff/trends/").status_code == 403
        assert client.get("/ratings/staff/rankings/export/").status_code == 403
        assert client.get("/api/v1/ratings/rankings/?unit=official").status_code == 403
        assert client.get("/api/v1/ratings/trends/").status_code == 403
    assert client_for(rw.district).get("/api/v1/ratings/rankings/?unit=official").status_code in (401, 403)
    staff = client_for(rw.district, rw.staff)
    data = staff.get(f"/api/v1/ratings/rankings/?unit=official&start={THIS_YEAR}-01&end={THIS_YEAR}-12").json()
    rows = {r["id"]: r for r in data["rows"]}
    assert (rows[rw.o1.pk]["rank"], rows[rw.o1.pk]["n"], rows[rw.o1.pk]["average"]) == (1, 3, "4.67")
    assert (rows[rw.o2.pk]["rank"], rows[rw.o2.pk]["bad"]) == (2, 1)
    assert rows[rw.o3.pk]["rank"] is None and rows[rw.o3.pk]["n"] == 1
    assert staff.get("/api/v1/ratings/rankings/?unit=planet").status_code == 400
    assert staff.get("/api/v1/ratings/rankings/?unit=grid&start=2026-13").status_code == 400
    trend = staff.get(f"/api/v1/ratings/trends/?unit=official&id={rw.o2.pk}&months=2").json()
    assert trend["name"] == "孙丽" and trend["points"][-1]["n"] == 2 and len(trend["points"]) == 2
    page = staff.get(f"/ratings/staff/rankings/?unit=official&period=year&year={THIS_YEAR}")
    html = page.content.decode()
    assert page.status_code == 200 and "钱进" in html and "周明" in html
    assert f'data-testid="ranking-row" data-id="{rw.o1.pk}" data-rank="1"' in html
    assert 'data-testid="unranked"' in html
    for unit in ("department", "street", "grid", "merchant"):
        assert staff.get(f"/ratings/staff/rankings/?unit={unit}").status_code == 200
    assert staff.get(f"/ratings/staff/trends/?unit=official&id={rw.o1.pk}").status_code == 200
    assert staff.get("/ratings/staff/trends/").status_code == 200


def test_pages_use_the_shipped_echarts_never_a_cdn(rw):
    from django.contrib.staticfiles import finders

    _seed(rw)
    staff = client_for(rw.district, rw.staff)
    html = staff.get("/ratings/staff/rankings/").content.decode()
    scripts = re.findall(r'<script[^>]*src="([^"]+)"', html)
    assert "/static/vendor/echarts/echarts.min.js" in scripts and "/static/portal/charts.js" in scripts
    assert all(s.startswith("/static/") for s in scripts), scripts
    assert not re.search(r"cdn|jsdelivr|unpkg|bootcdn|staticfile\.org", html, re.IGNORECASE)
    assert '<script id="ranking-chart-data" type="application/json">' in html  # the chart's data, no inline code
    assert re.findall(r"<script(?![^>]*(?:src=|application/json))", html) == []
    assert finders.find("vendor/echarts/echarts.min.js") and finders.find("vendor/echarts/LICENSE")
    served = staff.get("/static/vendor/echarts/echarts.min.js")
    assert served.status_code == 200


def test_an_official_sees_their_own(rw):
    _seed(rw)
    o1 = client_for(rw.district, rw.o1_user)
    page = o1.get("/ratings/me/official/")
    html = page.content.decode()
    assert page.status_code == 200 and "态度很好" in html and "办事拖拉" not in html
    assert 'data-testid="overall-average">4.67<' in html
    assert "/ratings/appeal/" in html and "/static/vendor/echarts/echarts.min.js" in html
    assert rw.res2.username not in html  # raters are never shown
    mine = o1.get("/api/v1/ratings/me/official/").json()
    assert mine["score"]["overall"]["n"] == 3 and {r["comment"] for r in mine["ratings"]} >= {"态度很好"}
    assert "rater" not in str(mine["ratings"][0].keys())
    assert o1.get(f"/api/v1/ratings/scores/?official={rw.o1.pk}").status_code == 200
    assert o1.get(f"/api/v1/ratings/scores/?official={rw.o2.pk}").status_code == 403  # a colleague's: no
    assert o1.get(f"/api/v1/ratings/scores/?official={rw.o3.pk}").status_code == 403
    assert o1.get(f"/api/v1/ratings/scores/?merchant={rw.shop.pk}").status_code == 403
    assert o1.get("/ratings/department/").status_code == 403  # o1 is rated in civil affairs, not its head
    resident = client_for(rw.district, rw.res1)
    assert resident.get("/ratings/me/official/").status_code == 200  # says: not linked to an official
    assert resident.get("/api/v1/ratings/me/official/").status_code == 404
    assert resident.get(f"/api/v1/ratings/scores/?official={rw.o1.pk}").status_code == 403


def test_the_department_head_sees_their_people(rw):
    _seed(rw)
    head = client_for(rw.district, rw.head)
    page = head.get("/ratings/department/")
    html = page.content.decode()
    assert page.status_code == 200 and "钱进" in html and "孙丽" in html and "周明" not in html
    data = head.get("/api/v1/ratings/department/").json()
    assert [r["id"] for r in data["rows"]] == [rw.o1.pk, rw.o2.pk] and data["rows"][0]["rank"] == 1
    assert head.get(f"/api/v1/ratings/scores/?official={rw.o2.pk}").json()["overall"]["n"] == 2
    assert head.get(f"/api/v1/ratings/scores/?official={rw.o3.pk}").status_code == 403  # another department
    assert head.get("/api/v1/ratings/department/?department=urban-mgmt").status_code == 403
    admin = client_for(rw.district, rw.admin)
    assert admin.get("/ratings/department/?department=urban-mgmt").status_code == 200


def test_a_merchant_sees_their_own(rw):
    _seed(rw)
    owner = client_for(rw.district, rw.shop_owner)
    html = owner.get("/ratings/me/merchant/").content.decode()
    assert "面很好吃" in html and "太贵" not in html and "/ratings/reply/" in html
    mine = owner.get("/api/v1/ratings/me/merchant/").json()
    assert mine["score"]["subject_name"] == "郑记面馆" and mine["score"]["overall"]["n"] == 1
    assert owner.get(f"/api/v1/ratings/scores/?merchant={rw.shop.pk}").status_code == 200
    assert owner.get(f"/api/v1/ratings/scores/?merchant={rw.stall.pk}").status_code == 403
    assert owner.get(f"/api/v1/ratings/scores/?official={rw.o1.pk}").status_code == 403
    assert client_for(rw.district, rw.res1).get("/api/v1/ratings/me/merchant/").status_code == 404


def test_excel_export_has_the_ranking_rows(rw):
    import openpyxl

    _seed(rw)
    staff = client_for(rw.district, rw.staff)
    response = staff.get(f"/ratings/staff/rankings/export/?unit=official&period=year&year={THIS_YEAR}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    sheet = book.worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0].startswith("名次")
    by_name = {r[1]: r for r in rows[1:]}
    assert by_name["钱进"][0] == 1 and by_name["钱进"][3] == 3 and abs(by_name["钱进"][4] - 4.67) < 1e-9
    assert by_name["孙丽"][0] == 2 and by_name["孙丽"][5] == 1
    assert by_name["周明"][0] is None and "不足" in by_name["周明"][7]
    about = {r[0]: r[1:] for r in book.worksheets[1].iter_rows(values_only=True)}
    assert about["期间 (period)"][:2] == (f"{THIS_YEAR}-01-01", f"{THIS_YEAR}-12-31")
    merchants = openpyxl.load_workbook(io.BytesIO(staff.get(
        "/ratings/staff/rankings/export/?unit=merchant").content)).worksheets[0]
    assert {r[1] for r in merchants.iter_rows(min_row=2, values_only=True)} >= {"郑记面馆", "老李烤红薯"}


def test_module_off_answers_404(laixi):
    from tests.conftest import admin_of

    admin = client_for(laixi, admin_of(laixi))
    for url in ("/ratings/staff/rankings/", "/ratings/staff/trends/", "/ratings/me/official/", "/ratings/department/",
                "/ratings/me/merchant/", "/ratings/staff/stars/", "/ratings/stars/abc/",
                "/ratings/staff/rankings/export/", "/api/v1/ratings/rankings/?unit=official",
                "/api/v1/ratings/stars/", "/api/v1/ratings/scores/?official=1"):
        assert admin.get(url).status_code == 404, url


def test_the_api_schema_documents_the_reports(rw):
    schema = client_for(rw.district, rw.admin).get("/api/schema/?format=json").json()
    paths = schema["paths"]
    for path in ("scores/", "rankings/", "trends/", "department/", "me/official/", "me/merchant/", "stars/",
                 "stars/{token}/", "stars/{token}/revoke/"):
        assert f"/api/v1/ratings/{path}" in paths, path
    ranking = paths["/api/v1/ratings/rankings/"]["get"]
    assert {p["name"] for p in ranking["parameters"]} >= {"unit", "dimension", "start", "end", "channel"}
    assert "$ref" in ranking["responses"]["200"]["content"]["application/json"]["schema"]
    assert "requestBody" in paths["/api/v1/ratings/stars/"]["post"]
    components = schema["components"]["schemas"]
    assert {"Score", "Ranking", "RankRow", "Trend", "Star"} <= set(components)
