"""Residents sign in with phone number + one-time code."""
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.models import OneTimeCode
from kernel.models import RoleAssignment
from kernel.sms import MemorySender
from tests.conftest import client_for

pytestmark = pytest.mark.django_db
PHONE = "13912345678"


def last_code() -> str:
    phone, text = MemorySender.outbox[-1]
    return text.split("验证码是 ")[1][:6]


def request(client, phone=PHONE):
    return client.post("/api/v1/auth/otp/request/", {"phone": phone}, format="json")


def verify(client, code, phone=PHONE, **extra):
    return client.post("/api/v1/auth/otp/verify/", {"phone": phone, "code": code, **extra}, format="json")


def test_sign_in_creates_a_resident_and_a_session(kangbashi):
    client = client_for(kangbashi)
    response = request(client)
    assert response.status_code == 202
    assert response.json() == {"phone": "139****5678", "expires_in": 300}
    assert MemorySender.outbox[-1][0] == "+8613912345678"
    response = verify(client, last_code())
    assert response.status_code == 200
    body = response.json()
    assert body["phone"] == "139****5678"
    assert [r["role"] for r in body["roles"]] == ["resident"]
    me = client.get("/api/v1/me/")
    assert me.status_code == 200 and me.json()["id"] == body["id"]
    with tenant_context(kangbashi):
        user = get_user_model().objects.get(pk=body["id"])
        assert user.phone == "+8613912345678"
        assert "13912345678" not in user.phone_encrypted and user.phone_index
        assert RoleAssignment.objects.filter(user=user, role="resident").count() == 1
        assert OneTimeCode.objects.get().code_hash != last_code()


def test_the_same_phone_is_the_same_resident_next_time(kangbashi):
    client = client_for(kangbashi)
    request(client)
    first = verify(client, last_code()).json()["id"]
    OneTimeCode.objects.none()
    with tenant_context(kangbashi):
        OneTimeCode.objects.update(created_at=timezone.now() - timedelta(minutes=2))
    request(client)
    assert verify(client, last_code()).json()["id"] == first


def test_token_for_apps(kangbashi):
    client = client_for(kangbashi)
    request(client)
    token = verify(client, last_code(), token=True).json()["token"]
    app = client_for(kangbashi)
    app.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert app.get("/api/v1/me/").status_code == 200
    assert app.post("/api/v1/auth/logout/").status_code == 204
    assert app.get("/api/v1/me/").status_code == 401


def test_wrong_code_counts_down_then_locks(kangbashi):
    client = client_for(kangbashi)
    request(client)
    good = last_code()
    wrong = "000000" if good != "000000" else "111111"
    for left in (4, 3, 2, 1):
        response = verify(client, wrong)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "otp_wrong"
        assert f"{left} tries left" in response.json()["error"]["message"]
    assert verify(client, wrong).json()["error"]["code"] == "otp_wrong"
    locked = verify(client, good)  # even the right code is refused after five wrong tries
    assert locked.status_code == 400 and locked.json()["error"]["code"] == "otp_locked"
    assert client.get("/api/v1/me/").status_code in (401, 403)


def test_expired_code_is_refused(kangbashi):
    client = client_for(kangbashi)
    request(client)
    with tenant_context(kangbashi):
        OneTimeCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = verify(client, last_code())
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "otp_expired"


def test_replayed_code_is_refused(kangbashi):
    client = client_for(kangbashi)
    request(client)
    code = last_code()
    assert verify(client, code).status_code == 200
    other = client_for(kangbashi)
    replay = verify(other, code)
    assert replay.status_code == 400 and replay.json()["error"]["code"] == "otp_used"
    assert other.get("/api/v1/me/").status_code in (401, 403)


def test_only_the_newest_code_works_and_resend_waits(kangbashi):
    client = client_for(kangbashi)
    request(client)
    old = last_code()
    too_soon = request(client)
    assert too_soon.status_code == 429 and too_soon.json()["error"]["code"] == "otp_too_soon"
    with tenant_context(kangbashi):
        OneTimeCode.objects.update(created_at=timezone.now() - timedelta(minutes=2))
    request(client)
    new = last_code()
    if new != old:
        assert verify(client, old).json()["error"]["code"] == "otp_superseded"
    assert verify(client, new).status_code == 200


def test_bad_phone_numbers_are_named(kangbashi):
    client = client_for(kangbashi)
    for bad in ("12345", "abc", "10000000000"):
        response = request(client, bad)
        assert response.status_code == 400
        assert "phone" in response.json()["error"]["fields"]
    assert verify(client, "12ab").json()["error"]["fields"]["code"]
    assert not MemorySender.outbox


def test_a_code_from_one_district_does_not_sign_in_to_another(kangbashi, laixi):
    request(client_for(kangbashi))
    response = verify(client_for(laixi), last_code())
    assert response.status_code == 400 and response.json()["error"]["code"] == "otp_missing"


def test_portal_sign_in_page(kangbashi):
    client = client_for(kangbashi)
    page = client.post("/login/", {"action": "send", "phone": PHONE})
    assert page.status_code == 200 and "139****5678" in page.content.decode()
    done = client.post("/login/", {"action": "verify", "phone": PHONE, "code": last_code(), "next": "/me/"})
    assert done.status_code == 302 and done["Location"] == "/me/"
    assert client.get("/me/").status_code == 200
