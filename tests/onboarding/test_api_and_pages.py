"""The onboarding API and pages: the whole round trip over HTTP, and isolation between vendors on
every route onboarding adds."""
from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import URLPattern, get_resolver

from onboarding import provisioning
from onboarding.models import Application
from onboarding.services import approve_application, create_application
from tenants.models import District
from tests.onboarding.conftest import application_data, platform_user, png_bytes, public_client

pytestmark = pytest.mark.django_db


def test_the_api_round_trip(vendor, vendor_user, ops_user):
    client = public_client(vendor_user)
    ops = public_client(ops_user)
    data = application_data(slug="api-city")
    data.pop("domain")
    made = client.post("/api/v1/onboarding/applications/", data, format="json")
    assert made.status_code == 201, made.json()
    body = made.json()
    assert body["state"] == "draft" and body["contact_phone"] == "139****5678" and body["vendor"] == "v-ordos"
    pk = body["id"]
    bad = client.patch(f"/api/v1/onboarding/applications/{pk}/", {"region_code": "999999"}, format="json")
    assert bad.status_code == 400 and "region_code" in bad.json()["error"]["fields"]
    logo = client.patch(f"/api/v1/onboarding/applications/{pk}/",
                        {"logo": SimpleUploadedFile("l.png", b"GIF89a....", content_type="image/png")},
                        format="multipart")
    assert logo.status_code == 400 and "logo" in logo.json()["error"]["fields"]
    good = client.patch(f"/api/v1/onboarding/applications/{pk}/",
                        {"logo": SimpleUploadedFile("l.png", png_bytes(), content_type="image/png")},
                        format="multipart")
    assert good.status_code == 200 and good.json()["logo"]
    assert client.post(f"/api/v1/onboarding/applications/{pk}/submit/").json()["state"] == "submitted"
    assert client.post(f"/api/v1/onboarding/applications/{pk}/approve/", {"reason": "ok"},
                       format="json").status_code == 403  # a vendor does not approve
    queue = ops.get("/api/v1/onboarding/applications/?state=submitted").json()
    assert [a["id"] for a in queue["results"]] == [pk]
    sent_back = ops.post(f"/api/v1/onboarding/applications/{pk}/return/", {"comment": "请上传标志"}, format="json")
    assert sent_back.json()["state"] == "returned"
    answer = client.post(f"/api/v1/onboarding/applications/{pk}/comments/", {"body": "已上传"}, format="json")
    assert answer.status_code == 201 and answer.json()["author_kind"] == "vendor"
    thread = client.get(f"/api/v1/onboarding/applications/{pk}/comments/").json()
    assert [c["author_kind"] for c in thread["results"]] == ["staff", "vendor"]
    assert client.post(f"/api/v1/onboarding/applications/{pk}/submit/").json()["state"] == "resubmitted"
    no_reason = ops.post(f"/api/v1/onboarding/applications/{pk}/approve/", {}, format="json")
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["error"]["fields"]
    approved = ops.post(f"/api/v1/onboarding/applications/{pk}/approve/", {"reason": "材料齐全"}, format="json")
    assert approved.status_code == 202 and approved.json()["run"]["status"] == "queued"
    again = ops.post(f"/api/v1/onboarding/applications/{pk}/approve/", {"reason": "again"}, format="json")
    assert again.status_code == 409
    provisioning.provision(approved.json()["run"]["id"])
    connection.set_schema_to_public()
    progress = client.get(f"/api/v1/onboarding/applications/{pk}/progress/").json()
    assert progress["state"] == "provisioned" and progress["district"] == "api-city"
    assert progress["run"]["done"] == progress["run"]["total"]
    assert District.objects.get(slug="api-city").live_at is None


def test_a_taken_slug_is_a_409_in_the_error_shape(vendor_user, vendor, vendor2_user):
    client = public_client(vendor_user)
    assert client.post("/api/v1/onboarding/applications/", application_data(slug="same"), format="json").status_code == 201
    clash = public_client(vendor2_user).post("/api/v1/onboarding/applications/", application_data(slug="same"),
                                             format="json")
    assert clash.status_code == 409 and "slug" in clash.json()["error"]["fields"]


def test_finance_and_strangers_see_no_applications(vendor, vendor_user):
    create_application(actor=vendor_user, vendor=vendor, data=application_data())
    finance = platform_user("fin", "finance")
    assert public_client(finance).get("/api/v1/onboarding/applications/").status_code == 403
    assert public_client(finance).get("/console/applications/").status_code == 403
    assert public_client().get("/api/v1/onboarding/applications/").status_code in (401, 403)
    assert public_client().get("/console/applications/").status_code == 302


def test_pages_round_trip(vendor, vendor_user, ops_user, kangbashi):
    client = public_client(vendor_user)
    assert client.get("/console/applications/new/").status_code == 200
    form = {k: v for k, v in application_data(slug="page-city").items() if k not in ("modules", "dpa_accepted")}
    form.update(modules=["registry", "codes", "notices"], dpa_accepted="on", action="submit", source_district="kangbashi",
                logo=SimpleUploadedFile("l.png", png_bytes(), content_type="image/png"))
    bad = client.post("/console/applications/new/", {**form, "region_code": "999999"})
    assert bad.status_code == 200 and not Application.objects.exists()  # errors shown on the form
    assert "region_code" in bad.context["form"].errors
    unaccepted = client.post("/console/applications/new/", {**form, "dpa_accepted": "", "logo": ""})
    assert unaccepted.status_code == 200 and "dpa_accepted" in unaccepted.context["form"].errors
    assert not Application.objects.exists()  # a refused submit saves no draft (no second copy on a retry)
    form["logo"] = SimpleUploadedFile("l.png", png_bytes(), content_type="image/png")
    done = client.post("/console/applications/new/", form)
    assert done.status_code == 302, done.context["form"].errors
    app = Application.objects.get(slug="page-city")
    assert app.state == "submitted" and app.source_district == kangbashi and app.logo
    page = client.get(f"/console/applications/{app.pk}/").content.decode()
    assert "page-city" in page and "139****5678" in page and "13912345678" not in page
    ops = public_client(ops_user)
    assert "page-city" in ops.get("/console/applications/").content.decode()
    unconfirmed = ops.post(f"/console/applications/{app.pk}/approve/", {"reason": "ok"})
    assert unconfirmed.status_code == 302
    app.refresh_from_db()
    assert app.state == "submitted"
    ops.post(f"/console/applications/{app.pk}/approve/", {"reason": "ok", "confirm": "1"})
    app.refresh_from_db()
    assert app.state == "approved"
    progress = client.get(f"/console/applications/{app.pk}/progress.json").json()
    assert progress["run"]["status"] == "queued" and progress["run"]["steps"][0]["key"] == "district"
    assert 'data-testid="progress"' in client.get(f"/console/applications/{app.pk}/progress/").content.decode()


def _onboarding_routes():
    """Every route onboarding adds on the public host (pages and API), with its path template."""
    routes = []
    resolver = get_resolver("config.urls_public")
    for prefix in ("console/applications/", "api/v1/onboarding/"):
        for top in resolver.url_patterns:
            if getattr(top.pattern, "_route", None) != prefix:
                continue
            for pattern in top.url_patterns:
                assert isinstance(pattern, URLPattern)
                routes.append("/" + prefix + str(pattern.pattern))
    return routes


def test_a_vendor_never_sees_another_vendors_application(vendor, vendor_user, vendor2, vendor2_user, ops_user):
    app = create_application(actor=vendor_user, vendor=vendor, data=application_data(slug="secret-city"),
                             submit=True)
    run = approve_application(actor=ops_user, application=app, reason="ok")
    provisioning.provision(run.pk)
    connection.set_schema_to_public()
    own = create_application(actor=vendor2_user, vendor=vendor2, data=application_data(
        slug="v2-city", contact_name="孔蕾", contact_phone="13698765432", contact_email="kong@example.cn",
        dpa_signer="孔蕾"))
    routes = _onboarding_routes()
    assert len(routes) >= 20
    other = public_client(vendor2_user)
    secrets = ("secret-city", "13912345678", "139****5678", "ma@example.cn", "马骏")
    for route in routes:
        if "<int:pk>" in route:
            url = route.replace("<int:pk>", str(app.pk))
            for method in ("get", "post", "patch"):
                response = getattr(other, method)(url, {}, format="json") if method != "get" else other.get(url)
                assert response.status_code in (403, 404, 405), (method, url, response.status_code)
                text = response.content.decode()
                assert not any(s in text for s in secrets), (method, url)
        else:
            url = route
            response = other.get(url)
            text = response.content.decode()
            assert response.status_code in (200, 405), (url, response.status_code)
            assert not any(s in text for s in secrets), url
            assert url.endswith("new/") or "v2-city" in text, url  # their own is listed
    assert own.pk != app.pk
    connection.set_schema_to_public()
    assert Application.objects.get(pk=app.pk).state == "provisioned"  # nothing the other vendor sent changed it
