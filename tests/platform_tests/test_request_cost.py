"""What a signed-in API call, a list and a throttle cost (bench/load.py): the bearer token, its user and
the user's roles in one statement, read afresh on every request; no COUNT for a first page shorter
than a page; one Redis command per throttle count."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from tests.conftest import admin_of, client_for, make_user

pytestmark = pytest.mark.django_db


def _get(client, url):
    connection.set_schema_to_public()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    return response, [q["sql"] for q in queries.captured_queries]


def test_a_bearer_call_reads_token_user_and_roles_in_one_statement(kangbashi):
    user = make_user(kangbashi, "cost_gw", "grid_worker", "grid", "G0101")
    make_user(kangbashi, "cost_gw", "community_staff", "community", "C01")
    response, sql = _get(client_for(kangbashi, user, token=True), "/api/v1/me/")
    assert response.status_code == 200, response.content
    assert sorted((r["role"], r["scope_kind"], r["scope_code"]) for r in response.json()["roles"]) == [
        ("community_staff", "community", "C01"), ("grid_worker", "grid", "G0101")]
    assert len([s for s in sql if "kernel_roleassignment" in s]) == 1
    assert len([s for s in sql if "authtoken_token" in s]) == 1
    assert [s for s in sql if "kernel_roleassignment" in s] == [s for s in sql if "authtoken_token" in s]


def test_revoked_tokens_deactivated_users_and_removed_roles_count_at_once(kangbashi, dongsheng):
    from rest_framework.authtoken.models import Token

    from kernel.models import RoleAssignment
    from kernel.services import revoke_role

    admin = admin_of(kangbashi)
    user = make_user(kangbashi, "cost_admin", "district_admin")
    client = client_for(kangbashi, user, token=True)
    assert client.get("/api/v1/settings/users/").status_code == 200
    with tenant_context(kangbashi):
        assignment = RoleAssignment.objects.get(user=user, role="district_admin")
        revoke_role(actor=admin, assignment=assignment)
    assert client.get("/api/v1/settings/users/").status_code == 403  # role removed: next request
    assert client.get("/api/v1/me/").json()["roles"] == []

    with tenant_context(kangbashi):
        key = Token.objects.get(user=user).key
    other = client_for(dongsheng)  # the same key on another district's host is nobody there
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert other.get("/api/v1/me/").status_code == 401

    with tenant_context(kangbashi):
        type(user).objects.filter(pk=user.pk).update(is_active=False)
    response = client.get("/api/v1/me/")
    assert response.status_code == 401 and "inactive" in response.json()["error"]["message"]
    with tenant_context(kangbashi):
        type(user).objects.filter(pk=user.pk).update(is_active=True)
        Token.objects.filter(user=user).delete()  # sign-out / revocation
    response = client.get("/api/v1/me/")
    assert response.status_code == 401 and response.json()["error"]["message"] == "Invalid token."
    assert response["WWW-Authenticate"] == "Bearer"


def test_a_first_page_shorter_than_a_page_is_not_counted(kangbashi):
    from modules.cases.models import Category

    with tenant_context(kangbashi):
        total = Category.objects.count()
    assert total >= 2
    client = client_for(kangbashi, make_user(kangbashi, "cost_resident", "resident"), token=True)
    response, sql = _get(client, "/api/v1/cases/categories/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == len(body["results"]) and body["next"] is None
    assert not any("COUNT(" in s for s in sql)

    response, sql = _get(client, "/api/v1/cases/categories/?page_size=1")  # a full page: counted
    body = response.json()
    assert body["count"] == total and len(body["results"]) == 1 and body["next"]
    assert any("COUNT(" in s for s in sql)
    response, sql = _get(client, f"/api/v1/cases/categories/?page_size=1&page={total}")
    assert response.json()["count"] == total and response.json()["next"] is None
    assert client.get("/api/v1/cases/categories/?page=99").status_code == 404


def test_a_throttle_counts_with_one_redis_command_and_the_counter_expires(kangbashi, monkeypatch):
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    from kernel.api import AnonThrottle
    from kernel.redis_cache import FailOpenRedisCache

    real = caches["default"]
    if not isinstance(real, RedisCache):
        pytest.skip("needs Redis (REDIS_URL)")

    def not_this_way(*args, **kwargs):
        raise AssertionError("a throttle count went through cache.add/incr (two round trips)")

    monkeypatch.setattr(FailOpenRedisCache, "add", not_this_way)
    monkeypatch.setattr(FailOpenRedisCache, "incr", not_this_way)
    monkeypatch.setattr(AnonThrottle, "THROTTLE_RATES", {**AnonThrottle.THROTTLE_RATES, "anon": "2/min"})
    client = client_for(kangbashi)
    codes = [client.get("/api/v1/district/").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    client_redis = real._cache.get_client(write=True)
    keys = client_redis.keys(f"*:{real.key_prefix}:*throttle_anon_*")  # schema:prefix:version:key
    assert keys and all(0 < client_redis.ttl(k) <= 61 for k in keys)  # a new counter gets its expiry
    assert max(int(client_redis.get(k)) for k in keys) == 3


def test_the_notice_list_is_kept_per_district_and_dropped_on_every_change(kangbashi, laixi):
    from modules.notices.models import Notice

    admin = client_for(kangbashi, admin_of(kangbashi))
    anonymous, elsewhere = client_for(kangbashi), client_for(laixi)
    first, _sql = _get(anonymous, "/api/v1/notices/")
    again, sql = _get(anonymous, "/api/v1/notices/")
    assert again.json() == first.json() and not [s for s in sql if "notices_notice" in s]  # kept

    made = admin.post("/api/v1/notices/", {"title": "停水通知 cost", "body": "明天停水", "category": "news"},
                      format="json")
    assert made.status_code == 201, made.content
    titles = [n["title"] for n in anonymous.get("/api/v1/notices/").json()["results"]]
    assert "停水通知 cost" in titles  # published: seen at once
    assert "停水通知 cost" not in [n["title"] for n in elsewhere.get("/api/v1/notices/").json()["results"]]
    assert admin.patch(f"/api/v1/notices/{made.json()['id']}/", {"title": "停气通知 cost"},
                       format="json").status_code == 200
    titles = [n["title"] for n in anonymous.get("/api/v1/notices/").json()["results"]]
    assert "停气通知 cost" in titles and "停水通知 cost" not in titles
    with tenant_context(kangbashi):  # a write outside the services too (admin, shell)
        Notice.objects.filter(pk=made.json()["id"]).first().delete()
    assert "停气通知 cost" not in [n["title"] for n in anonymous.get("/api/v1/notices/").json()["results"]]
    filtered = anonymous.get("/api/v1/notices/?category=news").json()
    assert all(n["category"] == "news" for n in filtered["results"])


def test_the_category_list_is_kept_and_a_changed_category_is_seen_at_once(kangbashi, laixi):
    from modules.cases import services

    resident = client_for(kangbashi, make_user(kangbashi, "cost_cat", "resident"), token=True)
    first, _sql = _get(resident, "/api/v1/cases/categories/")
    again, sql = _get(resident, "/api/v1/cases/categories/")
    assert again.json() == first.json() and not [s for s in sql if "cases_category" in s]
    with tenant_context(kangbashi):
        services.save_category(actor=admin_of(kangbashi), code="zz_cost", name_zh="测试类别", name_en="Cost test")
    codes = [c["code"] for c in resident.get("/api/v1/cases/categories/").json()["results"]]
    assert "zz_cost" in codes
    other = client_for(laixi).get("/api/v1/cases/categories/").json()  # another district: not its list
    assert "zz_cost" not in [c["code"] for c in other.get("results", [])], other


def test_the_health_check_asks_the_server_only_when_the_connection_has_something_to_say(db):
    import select

    from django.db.utils import load_backend

    settings_dict = {**connection.settings_dict, "CONN_MAX_AGE": 60, "CONN_HEALTH_CHECKS": True}
    wrapper = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, "health-check-test")

    def last_statement(pid):
        with connection.cursor() as cursor:
            cursor.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid])
            row = cursor.fetchone()
        return row and row[0]

    try:
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT 4242")
        pid = wrapper.connection.info.backend_pid
        wrapper.health_check_done = False  # as at the start of a request
        wrapper.close_if_health_check_failed()
        assert wrapper.connection is not None and wrapper.health_check_done
        assert last_statement(pid) == "SELECT 4242"  # no SELECT 1: nothing was sent

        with connection.cursor() as cursor:  # the server drops the connection (restart, idle timeout...)
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        select.select([wrapper.connection.fileno()], [], [], 5)  # the server's goodbye arrives
        wrapper.health_check_done = False
        wrapper.close_if_health_check_failed()
        assert wrapper.connection is None  # found dead, closed: the next query reconnects
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT 1")
            assert cursor.fetchone() == (1,)
    finally:
        wrapper.close()


def test_an_anonymous_call_is_counted_once_and_a_signed_in_one_by_the_user_throttle(kangbashi, rf):
    """AnonThrottle counts an anonymous caller; the user throttle counts only signed-in callers."""
    from django.contrib.auth.models import AnonymousUser

    from kernel.api import AnonThrottle, UserThrottle
    from tests.conftest import admin_of

    request = rf.get("/api/v1/notices/", REMOTE_ADDR="10.1.2.3")
    request.user = AnonymousUser()
    assert UserThrottle().get_cache_key(request, None) is None
    assert AnonThrottle().get_cache_key(request, None) is not None
    request.user = admin_of(kangbashi)
    assert UserThrottle().get_cache_key(request, None) is not None
