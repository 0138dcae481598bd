"""Staff apps sign in with username and password and get a bearer token (issue 10 item 16): throttled,
locked after repeated failures (counted in the database), tokens expire and can be revoked."""
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context
from rest_framework.authtoken.models import Token

from accounts.models import SignInLock
from kernel.models import AuditEntry
from tests.conftest import PASSWORD, admin_of, clear_cache, client_for, make_user

pytestmark = pytest.mark.django_db
URL = "/api/v1/auth/token/"


def sign_in(district, username, password=PASSWORD):
    return client_for(district).post(URL, {"username": username, "password": password}, format="json")


def bearer(district, token):
    client = client_for(district)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_staff_sign_in_returns_a_token_that_works(kangbashi, settings):
    make_user(kangbashi, "grid1", "mediator")
    response = sign_in(kangbashi, "grid1")
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"token", "expires_at"}
    expires = timezone.datetime.fromisoformat(body["expires_at"])
    assert abs((expires - timezone.now()) - timedelta(seconds=settings.TOKEN_TTL)) < timedelta(minutes=1)
    me = bearer(kangbashi, body["token"]).get("/api/v1/me/")
    assert me.status_code == 200 and me.json()["username"] == "grid1"
    with tenant_context(kangbashi):
        assert AuditEntry.objects.filter(action="auth.password_sign_in", target_id=str(me.json()["id"])).exists()


def test_the_token_is_only_good_on_its_own_district(kangbashi, dongsheng):
    make_user(kangbashi, "grid2", "mediator")
    token = sign_in(kangbashi, "grid2").json()["token"]
    assert bearer(dongsheng, token).get("/api/v1/me/").status_code == 401


def test_wrong_password_and_unknown_user_get_the_same_answer(kangbashi):
    make_user(kangbashi, "grid3", "mediator")
    wrong = sign_in(kangbashi, "grid3", "nope-nope")
    unknown = sign_in(kangbashi, "nobody-here", "nope-nope")
    assert wrong.status_code == unknown.status_code == 400
    assert wrong.json()["error"]["code"] == unknown.json()["error"]["code"] == "signin_failed"
    assert wrong.json()["error"]["message"] == unknown.json()["error"]["message"]


def test_residents_keep_the_one_time_code(kangbashi):
    make_user(kangbashi, "resident1", "resident")
    response = sign_in(kangbashi, "resident1")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "signin_not_staff"
    assert "one-time code" in response.json()["error"]["message"]


def test_five_failures_lock_the_account_in_the_database(kangbashi, settings):
    make_user(kangbashi, "grid4", "mediator")
    for i in range(settings.SIGNIN_MAX_FAILURES - 1):
        assert sign_in(kangbashi, "grid4", f"wrong-{i}").status_code == 400
        clear_cache()  # a cache (Redis) outage or flush must not lift the count
    locked = sign_in(kangbashi, "grid4", "wrong-last")
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "signin_locked"
    assert "locked until" in locked.json()["error"]["message"]
    assert 800 < int(locked["Retry-After"]) <= 15 * 60 + 1
    clear_cache()
    # even the right password is refused while locked
    again = sign_in(kangbashi, "grid4")
    assert again.status_code == 429 and again.json()["error"]["code"] == "signin_locked"
    with tenant_context(kangbashi):
        lock = SignInLock.objects.get(user__username="grid4")
        assert lock.failures == settings.SIGNIN_MAX_FAILURES
        assert lock.locked_until > timezone.now() + timedelta(minutes=14)
        actions = list(AuditEntry.objects.filter(target_id=str(lock.user_id)).values_list("action", flat=True))
        assert actions.count("auth.password_failed") == settings.SIGNIN_MAX_FAILURES
        assert "auth.password_locked_attempt" in actions
        # 15 minutes later the lock has run out and the right password works, clearing the count
        SignInLock.objects.filter(pk=lock.pk).update(locked_until=timezone.now() - timedelta(seconds=1))
    assert sign_in(kangbashi, "grid4").status_code == 200
    with tenant_context(kangbashi):
        lock.refresh_from_db()
        assert lock.failures == 0 and lock.locked_until is None


def test_sign_in_is_throttled_in_its_own_scope(kangbashi, monkeypatch):
    from portal.api import TokenThrottle

    monkeypatch.setattr(TokenThrottle, "THROTTLE_RATES", {**TokenThrottle.THROTTLE_RATES, "token": "3/hour"})
    codes = [sign_in(kangbashi, "nobody-throttled", "x").status_code for _ in range(4)]
    assert codes == [400, 400, 400, 429]
    assert sign_in(kangbashi, "someone-else", "x").status_code == 400  # per address and username


def test_an_expired_token_gets_401_with_a_clear_message(kangbashi):
    make_user(kangbashi, "grid5", "mediator")
    token = sign_in(kangbashi, "grid5").json()["token"]
    with tenant_context(kangbashi):
        Token.objects.filter(key=token).update(created=timezone.now() - timedelta(days=31))
    response = bearer(kangbashi, token).get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_expired"
    assert "expired" in response.json()["error"]["message"] and "Sign in again" in response.json()["error"]["message"]
    fresh = sign_in(kangbashi, "grid5").json()["token"]  # signing in again gives a new, working token
    assert fresh != token
    assert bearer(kangbashi, fresh).get("/api/v1/me/").status_code == 200


def test_the_caller_revokes_their_own_token(kangbashi):
    make_user(kangbashi, "grid6", "mediator")
    token = sign_in(kangbashi, "grid6").json()["token"]
    client = bearer(kangbashi, token)
    assert client.post("/api/v1/auth/token/revoke/").status_code == 204
    response = client.get("/api/v1/me/")
    assert response.status_code == 401
    with tenant_context(kangbashi):
        assert AuditEntry.objects.filter(action="auth.token_revoked").exists()


def test_a_district_admin_revokes_a_users_tokens(kangbashi):
    user = make_user(kangbashi, "grid7", "mediator")
    other = make_user(kangbashi, "grid8", "mediator")
    token = sign_in(kangbashi, "grid7").json()["token"]
    url = f"/api/v1/settings/users/{user.pk}/tokens/revoke/"
    assert bearer(kangbashi, sign_in(kangbashi, "grid8").json()["token"]).post(url).status_code == 403
    assert client_for(kangbashi, admin_of(kangbashi)).post(url).status_code == 204
    assert bearer(kangbashi, token).get("/api/v1/me/").status_code == 401
    with tenant_context(kangbashi):
        assert Token.objects.filter(user=other).exists()


def test_the_resident_app_token_expires_too(kangbashi, settings):
    """The one-time-code sign-in hands out the same kind of token, with its expiry."""
    from kernel.sms import MemorySender

    client = client_for(kangbashi)
    client.post("/api/v1/auth/otp/request/", {"phone": "13912340000"}, format="json")
    code = MemorySender.outbox[-1][1].split("验证码是 ")[1][:6]
    body = client.post("/api/v1/auth/otp/verify/", {"phone": "13912340000", "code": code, "token": True},
                       format="json").json()
    assert body["token"] and body["expires_at"]


def test_throttle_keys_take_any_characters(kangbashi, recwarn):
    """What the caller typed is hashed into the throttle key: no invalid cache keys from odd input."""
    client = client_for(kangbashi)
    client.post("/api/v1/auth/otp/request/", {"phone": "Ü\x99 Òe û"}, format="json")
    client.post(URL, {"username": "Ü\x99 Òe û" * 40, "password": "x"}, format="json")
    from django.core.cache import CacheKeyWarning

    assert not [w for w in recwarn if issubclass(w.category, CacheKeyWarning)]
