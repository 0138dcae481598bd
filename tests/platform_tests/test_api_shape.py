"""One JSON error shape, pagination on lists, throttled anonymous calls, a valid OpenAPI schema."""
import pytest

from kernel.observability import before_send, scrub
from tests.conftest import admin_of, client_for

pytestmark = pytest.mark.django_db


def assert_error_shape(response, status):
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["status"] == status
    assert body["error"]["code"] and body["error"]["message"]
    return body["error"]


def test_errors_share_one_shape(kangbashi):
    anon = client_for(kangbashi)
    assert_error_shape(anon.get("/api/v1/me/"), 401)
    assert_error_shape(anon.get("/api/v1/nothing-here/"), 404)
    assert_error_shape(anon.get("/api/v1/notices/999999/"), 404)
    assert_error_shape(client_for(kangbashi, admin_of(kangbashi)).delete("/api/v1/me/"), 405)
    invalid = assert_error_shape(anon.post("/api/v1/auth/otp/verify/", {"phone": "", "code": "x"}, format="json"), 400)
    assert set(invalid["fields"]) == {"phone", "code"}
    garbage = anon.post("/api/v1/auth/otp/request/", "{not json", content_type="application/json")
    assert_error_shape(garbage, 400)


def test_lists_are_paginated(kangbashi):
    body = client_for(kangbashi).get("/api/v1/notices/?page_size=1").json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert len(body["results"]) == 1
    assert_error_shape(client_for(kangbashi).get("/api/v1/notices/?page=99"), 404)


def test_anonymous_calls_are_throttled(kangbashi, monkeypatch):
    from kernel.api import AnonThrottle

    monkeypatch.setattr(AnonThrottle, "THROTTLE_RATES", {**AnonThrottle.THROTTLE_RATES, "anon": "3/min"})
    client = client_for(kangbashi)
    codes = [client.get("/api/v1/district/").status_code for _ in range(5)]
    assert codes[:3] == [200, 200, 200] and codes[-1] == 429
    assert_error_shape(client.get("/api/v1/district/"), 429)
    # one counter per caller and minute (kernel.api.CountingThrottle): Retry-After is the rest of the minute
    assert 0 <= int(client.get("/api/v1/district/")["Retry-After"]) <= 61
    # the limit is per district: the same caller is not throttled on another district's host
    from tests.conftest import host

    client.defaults["HTTP_HOST"] = host("laixi")
    assert client.get("/api/v1/district/").status_code == 200


def test_openapi_schema_is_valid_per_district(kangbashi):
    from drf_spectacular.validation import validate_schema

    schema = client_for(kangbashi).get("/api/schema/", HTTP_ACCEPT="application/json").json()
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/auth/otp/verify/" in schema["paths"]
    docs = client_for(kangbashi).get("/api/docs/")
    assert docs.status_code == 200 and b"swagger" in docs.content.lower()


def test_sentry_events_carry_the_tenant_and_no_personal_data(kangbashi):
    from django.db import connection

    connection.set_tenant(kangbashi)
    event = {
        "message": "failed for 13912345678 with id 15060219900101123X",
        "user": {"id": 1, "phone": "13912345678"},
        "request": {"headers": {"Authorization": "Bearer abc", "Accept": "x"}, "cookies": {"sessionid": "s"},
                    "data": {"phone": "13912345678"}, "query_string": "phone=13912345678"},
        "extra": {"phone": "13912345678", "note": "call +8613912345678"},
    }
    out = before_send(event, {})
    text = str(out)
    assert "13912345678" not in text and "15060219900101123X" not in text and "Bearer abc" not in text
    assert out["tags"]["tenant"] == kangbashi.schema_name
    assert "user" not in out and "cookies" not in out["request"]
    assert scrub({"code": "123456"}) == {"code": "[filtered]"}
