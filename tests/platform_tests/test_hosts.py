"""The host picks the district; unknown hosts and districts that are not serving get clear pages."""
import pytest
from django.db import connection
from rest_framework.test import APIClient

from tenants.models import District
from tenants.services import set_status
from tests.conftest import PASSWORD, admin_of, client_for

pytestmark = pytest.mark.django_db


def test_unknown_host_is_a_clear_404_page_and_json():
    client = APIClient(HTTP_HOST="nowhere.localhost")
    page = client.get("/")
    assert page.status_code == 404
    text = page.content.decode()
    assert "找不到该区县" in text and "nowhere.localhost" in text and "No district" not in text  # one language
    client.cookies["django_language"] = "en"  # the visitor chose English
    assert "No district at this address" in client.get("/").content.decode()
    api = client.get("/api/v1/district/")
    assert api.status_code == 404 and api.json()["error"]["code"] == "unknown_host"


@pytest.mark.parametrize("status,code,words", [
    ("suspended", 403, "此区县的服务已暂停"),
    ("archived", 410, "此区县的服务已停止"),
])
def test_a_district_that_is_not_serving_says_so(kangbashi, status, code, words):
    district = set_status(actor=None, district=kangbashi, status=status, reason="test")
    assert district.status == status
    visitor = client_for(kangbashi)  # a resident; what its staff still may do: tests/golive/test_status.py
    page = visitor.get("/")
    assert page.status_code == code and words in page.content.decode()
    if status == "suspended":
        api = visitor.get("/api/v1/me/")
        assert api.status_code == code and api.json()["error"]["code"] == f"district_{status}"
        assert visitor.get("/api/v1/notices/").status_code == code
    else:  # archived: read-only; every write is refused in the one error shape
        api = client_for(kangbashi, admin_of(kangbashi)).post("/api/v1/notices/", {}, format="json")
        assert api.status_code == 403 and api.json()["error"]["code"] == "district_archived_read_only"


def test_suspend_and_resume(kangbashi):
    set_status(actor=None, district=kangbashi, status="suspended", reason="test")
    assert client_for(kangbashi).get("/").status_code == 403
    set_status(actor=None, district=District.objects.get(pk=kangbashi.pk), status="active", reason="test")
    assert client_for(kangbashi).get("/").status_code == 200


def test_bad_status_transition_is_refused(kangbashi):
    from kernel.errors import Conflict

    set_status(actor=None, district=kangbashi, status="archived", reason="test")
    with pytest.raises(Conflict):
        set_status(actor=None, district=District.objects.get(pk=kangbashi.pk), status="active", reason="test")


def test_spare_pool_schemas_are_never_served(kangbashi):
    from tenants.models import Domain

    connection.set_schema_to_public()
    # a spare has no domain until claimed; even a stray domain row pointing at one is refused
    kangbashi.status = "spare"
    kangbashi.save(update_fields=["status"])
    assert Domain.objects.filter(tenant=kangbashi).exists()
    assert client_for(kangbashi).get("/").status_code == 404


def test_public_site_and_console():
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from accounts.services import create_user

    connection.set_schema_to_public()
    from tenants.services import grant_platform_role

    with transaction.atomic():
        user = create_user(actor=None, username="opsuser", password=PASSWORD, is_staff=True)
    client = APIClient(HTTP_HOST="localhost")
    client.force_login(user)
    assert client.get("/api/v1/districts/").status_code == 403  # is_staff alone is no platform role
    client.logout()
    grant_platform_role(actor=None, user=user, role="ops")
    assert client.get("/").status_code == 200
    assert client.get("/console/").status_code == 302
    assert client.get("/api/v1/districts/").status_code == 401
    client.force_login(get_user_model().objects.get(username="opsuser"))
    page = client.get("/console/").content.decode()
    assert "kangbashi" in page and "laixi" in page
    body = client.get("/api/v1/districts/").json()
    slugs = [d["slug"] for d in body["results"]]
    assert {"kangbashi", "dongsheng", "laixi"} <= set(slugs) and "platform" not in slugs
    detail = client.get("/api/v1/districts/kangbashi/").json()
    assert detail["domains"] == ["kangbashi.localhost"]
    assert detail["kpis"]["notices.published_notices"] == 1  # the seeded welcome notice
    assert detail["kpis"]["registry.residents"] == 0
    assert "notices.published_notices" not in client.get("/api/v1/districts/dongsheng/").json()["kpis"]


def test_platform_staff_suspend_and_resume_from_the_console(kangbashi):
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from accounts.services import create_user

    connection.set_schema_to_public()
    from tenants.services import grant_platform_role

    with transaction.atomic():
        user = create_user(actor=None, username="ops2", password=PASSWORD)
    grant_platform_role(actor=None, user=user, role="ops")
    ops = APIClient(HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="en")
    ops.force_login(get_user_model().objects.get(username="ops2"))
    response = ops.post("/api/v1/districts/kangbashi/status/", {"status": "suspended", "reason": "unpaid"},
                        format="json")
    assert response.status_code == 200 and response.json()["status"] == "suspended"
    assert client_for(kangbashi).get("/").status_code == 403
    bad = ops.post("/api/v1/districts/kangbashi/status/", {"status": "frozen"}, format="json")
    assert bad.status_code == 400 and "status" in bad.json()["error"]["fields"]
    assert ops.post("/api/v1/districts/kangbashi/status/", {"status": "active"},
                    format="json").json()["error"]["fields"]["reason"]  # a reason is required
    unconfirmed = ops.post("/console/districts/kangbashi/status/", {"status": "active", "reason": "paid"})
    assert unconfirmed.status_code == 302 and client_for(kangbashi).get("/").status_code == 403
    page = ops.post("/console/districts/kangbashi/status/", {"status": "active", "reason": "paid", "confirm": "1"})
    assert page.status_code == 302
    assert client_for(kangbashi).get("/").status_code == 200
    district_admin = client_for(kangbashi, admin_of(kangbashi))
    district_admin.defaults["HTTP_HOST"] = "localhost"
    assert district_admin.post("/api/v1/districts/kangbashi/status/", {"status": "suspended"},
                               format="json").status_code in (401, 403)


def test_liveness_needs_no_known_host_and_readiness_answers_on_any_host():
    assert APIClient(HTTP_HOST="nowhere.localhost").get("/health/").json() == {"status": "ok"}
    assert APIClient(HTTP_HOST="nowhere.localhost").get("/ready/", HTTP_ACCEPT="application/json").status_code == 200


def test_platform_schema_documents_the_public_api_only():
    schema = APIClient(HTTP_HOST="localhost").get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert "/api/v1/districts/" in schema["paths"]
    assert not [p for p in schema["paths"] if p.startswith("/api/v1/notices") or p.startswith("/api/v1/settings")]


def test_health_and_readiness(kangbashi):
    assert APIClient(HTTP_HOST="localhost").get("/health/").json() == {"status": "ok"}
    ready = client_for(kangbashi).get("/ready/", HTTP_ACCEPT="application/json")
    assert ready.status_code == 200


def test_the_host_cache_is_dropped_when_a_district_changes(kangbashi):
    from tenants import middleware

    assert client_for(kangbashi).get("/api/v1/district/").status_code == 200
    assert host_cached("kangbashi.localhost")
    set_status(actor=None, district=kangbashi, status="suspended", reason="test")
    assert not host_cached("kangbashi.localhost")
    assert client_for(kangbashi).get("/api/v1/district/").status_code == 403
    middleware.forget_hosts()


def host_cached(hostname: str) -> bool:
    from tenants import middleware

    return hostname in middleware._hosts
