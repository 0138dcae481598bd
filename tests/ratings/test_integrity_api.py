"""The held-ratings API and staff pages: shapes, filters, decisions, permissions (a resident and staff of
another area get 403), the pass started through the API as a recorded job, the module switched off
(404), and the schema."""
from __future__ import annotations

from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context

from tests.conftest import admin_of, client_for, host, make_user
from tests.ratings.conftest import add_rating

COLLEAGUE = [{"rule": "colleague", "detail": "同部门", "numbers": {}}]
FAMILY = [{"rule": "family", "detail": "同户", "numbers": {}}]


def _held(rw, **kwargs):
    with tenant_context(rw.district):
        return add_rating(state="held", hold_reasons=kwargs.pop("reasons", COLLEAGUE), **kwargs)


def _state(rw, rating) -> str:
    with tenant_context(rw.district):
        rating.refresh_from_db()
        return rating.state


def test_the_queue_and_a_held_rating(rw):
    a = _held(rw, official=rw.o1, level=1, rater=rw.o2_user, scores={"duty": 1})
    b = _held(rw, merchant=rw.shop, rater=rw.res2, reasons=FAMILY)
    api = client_for(rw.district, rw.admin)
    body = api.get("/api/v1/ratings/held/").json()
    assert body["count"] == 2 and [r["id"] for r in body["results"]] == [a.pk, b.pk]
    first = body["results"][0]
    assert first["subject"] == "钱进" and first["subject_kind"] == "official" and first["department"] == "civil-affairs"
    assert first["level"] == 1 and first["scores"] == {"duty": 1} and first["state"] == "held"
    assert first["rater"] == "account" and first["reasons"][0]["rule"] == "colleague"
    assert first["reasons"][0]["name"] == "Rated by a colleague"
    assert [r["id"] for r in api.get("/api/v1/ratings/held/?rule=family").json()["results"]] == [b.pk]
    assert [r["id"] for r in api.get("/api/v1/ratings/held/?subject_kind=official").json()["results"]] == [a.pk]
    assert [r["id"] for r in api.get("/api/v1/ratings/held/?unit=G0101").json()["results"]] == [b.pk]
    bad = api.get("/api/v1/ratings/held/?rule=nonsense")
    assert bad.status_code == 400 and "rule" in bad.json()["error"]["fields"]

    detail = api.get(f"/api/v1/ratings/held/{a.pk}/").json()
    assert detail["id"] == a.pk and set(detail["context"]) == {"same_source", "burst_minutes", "around", "history"}
    assert api.get("/api/v1/ratings/held/999999/").status_code == 404


def test_deciding_through_the_api(rw):
    from kernel.models import AuditEntry

    a = _held(rw, official=rw.o1, rater=rw.o2_user)
    api = client_for(rw.district, rw.admin)
    url = f"/api/v1/ratings/held/{a.pk}/decide/"
    blank = api.post(url, {"decision": "release", "note": " "}, format="json")
    assert blank.status_code == 400 and "note" in blank.json()["error"]["fields"]
    assert _state(rw, a) == "held"
    assert api.post(url, {"decision": "pardon", "note": "x"}, format="json").status_code == 400
    done = api.post(url, {"decision": "reject", "note": "同事互评"}, format="json")
    assert done.status_code == 200 and done.json()["state"] == "rejected"
    assert done.json()["decision_note"] == "同事互评" and done.json()["decided_by"] == "admin"
    again = api.post(url, {"decision": "reject", "note": "再次"}, format="json")
    assert again.status_code == 409
    with tenant_context(rw.district):
        assert AuditEntry.objects.filter(action="ratings.reject", target_id=str(a.pk)).count() == 1


def test_residents_and_staff_of_another_area_are_refused(rw):
    other = make_user(rw.district, "rt_staff_c02", "community_staff", "community", "C02")
    a = _held(rw, official=rw.o1, rater=rw.o2_user)
    b = _held(rw, merchant=rw.shop, rater=rw.res2, reasons=FAMILY)
    resident = client_for(rw.district, rw.res1)
    assert resident.get("/api/v1/ratings/held/").status_code == 403
    assert resident.post(f"/api/v1/ratings/held/{b.pk}/decide/", {"decision": "release", "note": "好"},
                         format="json").status_code == 403
    outsider = client_for(rw.district, other)
    assert outsider.get("/api/v1/ratings/held/").json()["count"] == 0
    assert outsider.get(f"/api/v1/ratings/held/{b.pk}/").status_code == 403
    refused = outsider.post(f"/api/v1/ratings/held/{b.pk}/decide/", {"decision": "release", "note": "好"},
                            format="json")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    staff = client_for(rw.district, rw.staff)  # C01: the shop's, not the official's
    assert [r["id"] for r in staff.get("/api/v1/ratings/held/").json()["results"]] == [b.pk]
    assert staff.post(f"/api/v1/ratings/held/{a.pk}/decide/", {"decision": "release", "note": "好"},
                      format="json").status_code == 403
    ok = staff.post(f"/api/v1/ratings/held/{b.pk}/decide/", {"decision": "release", "note": "顾客确有消费"},
                    format="json")
    assert ok.status_code == 200 and ok.json()["state"] == "counted"
    assert _state(rw, a) == "held"
    assert client_for(rw.district).get("/api/v1/ratings/held/").status_code in (401, 403)


def test_the_pass_through_the_api_is_a_recorded_job(rw):
    from modules.ratings.integrity import services, tasks
    from modules.ratings.integrity.models import ScanRun

    with tenant_context(rw.district):
        colleague = add_rating(official=rw.o1, rater=rw.o2_user)
    assert client_for(rw.district, rw.staff).post("/api/v1/ratings/scan/").status_code == 403
    response = client_for(rw.district, rw.admin).post("/api/v1/ratings/scan/")
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "done" and body["held"] == 1 and body["counts"]["colleague"] == 1
    assert body["checked"] == 1 and body["id"]
    assert _state(rw, colleague) == "held"
    with tenant_context(rw.district):
        # the worker's way: a queued run, run by the task (kernel.jobs: under its lock, then done)
        run = services.start_scan(actor=rw.admin, background=True)
        assert run.status == "queued"
        assert tasks.run_scan(run.pk) == "done:0"
        assert ScanRun.objects.get(pk=run.pk).status == "done"
        assert tasks.scan_periodic() == "done:0"


def test_the_staff_pages(rw):
    a = _held(rw, official=rw.o1, level=1, rater=rw.o2_user)
    admin = Client(HTTP_HOST=host(rw.district.slug), HTTP_ACCEPT_LANGUAGE="en")
    with tenant_context(rw.district):
        admin.force_login(admin_of(rw.district), backend="django.contrib.auth.backends.ModelBackend")
    connection.set_schema_to_public()
    page = admin.get("/ratings/staff/held/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "同部门同事评价" in html and f'data-rating="{a.pk}"' in html
    assert admin.get("/ratings/staff/held/?rule=burst").content.decode().count('data-testid="held-rating"') == 0

    url = f"/ratings/staff/held/{a.pk}/"
    detail = admin.get(url)
    assert detail.status_code == 200 and 'data-testid="release"' in detail.content.decode()
    refused = admin.post(url, {"action": "release", "note": ""})
    assert refused.status_code == 400 and _state(rw, a) == "held"
    done = admin.post(url, {"action": "reject", "note": "同事互评"})
    assert done.status_code == 302 and done["Location"].endswith("/ratings/staff/held/")
    assert _state(rw, a) == "rejected"


def test_the_staff_pages_refuse_residents_and_other_areas(rw):
    other = make_user(rw.district, "rt_staff_c02", "community_staff", "community", "C02")
    b = _held(rw, merchant=rw.shop, rater=rw.res2, reasons=FAMILY)
    for user, queue in ((rw.res1, 403), (other, 200)):
        c = Client(HTTP_HOST=host(rw.district.slug), HTTP_ACCEPT_LANGUAGE="en")
        with tenant_context(rw.district):
            c.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        connection.set_schema_to_public()
        assert c.get("/ratings/staff/held/").status_code == queue
        assert c.get(f"/ratings/staff/held/{b.pk}/").status_code == 403
        assert c.post(f"/ratings/staff/held/{b.pk}/", {"action": "release", "note": "好"}).status_code == 403
    assert _state(rw, b) == "held"


def test_switched_off_the_routes_are_not_there(laixi):
    admin = admin_of(laixi)
    api = client_for(laixi, admin)
    assert api.get("/api/v1/ratings/held/").status_code == 404
    assert api.post("/api/v1/ratings/scan/").status_code == 404
    page = Client(HTTP_HOST=host(laixi.slug))
    with tenant_context(laixi):
        page.force_login(admin, backend="django.contrib.auth.backends.ModelBackend")
    connection.set_schema_to_public()
    assert page.get("/ratings/staff/held/").status_code == 404


def test_the_schema_documents_the_routes(rw):
    from drf_spectacular.validation import validate_schema

    schema = client_for(rw.district).get("/api/schema/", HTTP_ACCEPT="application/json").json()
    validate_schema(schema)
    paths = schema["paths"]
    assert "get" in paths["/api/v1/ratings/held/"]
    assert {"rule", "subject_kind", "unit", "page"} <= {p["name"] for p in paths["/api/v1/ratings/held/"]["get"][
        "parameters"]}
    assert "get" in paths["/api/v1/ratings/held/{id}/"]
    assert "post" in paths["/api/v1/ratings/held/{id}/decide/"]
    assert "post" in paths["/api/v1/ratings/scan/"]
    assert "RatingsHeldRatingDetail" in schema["components"]["schemas"]
