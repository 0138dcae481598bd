"""Isolation: a user, session or token of one district reads or writes nothing of another district,
through any route. The routes are walked from the URLconf, so every later module is covered."""
from __future__ import annotations

import re

import pytest
from django.db import connection
from django.urls import URLPattern, URLResolver, get_resolver
from django_tenants.utils import tenant_context
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.conftest import admin_of, client_for, host, make_user

pytestmark = pytest.mark.django_db
METHODS = ("get", "post", "put", "patch", "delete")
SKIP_PREFIXES = ("admin/", "static/", "media/", "i18n/")
VOLATILE = {"ready/"}  # shows timings: compared by status only


def walk(patterns, prefix=""):
    for p in patterns:
        route = prefix + str(p.pattern)
        if isinstance(p, URLResolver):
            yield from walk(p.url_patterns, route)
        elif isinstance(p, URLPattern):
            yield route


def tenant_routes() -> list[str]:
    routes = sorted(set(walk(get_resolver("config.urls_tenant").url_patterns)))
    return [r for r in routes if not r.startswith(SKIP_PREFIXES)]


def fill(route: str, ids: dict) -> str:
    def value(match):
        converter, name = match.group(1) or "str", match.group(2)
        if name in ids:
            return str(ids[name])
        return "1" if converter == "int" else "notices" if name == "key" else "x"

    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: str(ids.get(m.group(1), 1)), route)  # regex routes
    path = re.sub(r"<(?:(\w+):)?(\w+)>", value, path)
    path = re.sub(r"[\^$]", "", path)
    return "/" + path


CSRF = re.compile(rb"(?<![A-Za-z0-9])[A-Za-z0-9]{64}(?![A-Za-z0-9])")  # a masked CSRF token
IDEMPOTENCY = re.compile(rb'name="(?:idempotency_key|upload_token)" value="[^"]*"')


def normalized(content: bytes) -> bytes:
    # Each client has its own CSRF token, and each form render its own idempotency key and upload token;
    # nothing else may differ.
    return IDEMPOTENCY.sub(b"idempotency", CSRF.sub(b"csrf", content))


def snapshot(district) -> dict[str, str]:
    """A fingerprint of every table of the district's schema: row count and content hash."""
    out = {}
    with tenant_context(district), connection.cursor() as cur:
        cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
                    "AND table_type = 'BASE TABLE' ORDER BY table_name", [district.schema_name])
        for (table,) in cur.fetchall():
            cur.execute(f'SELECT count(*), md5(coalesce(string_agg(t::text, \'|\' ORDER BY t::text), \'\')) '
                        f'FROM "{district.schema_name}"."{table}" t')
            out[table] = cur.fetchone()
    connection.set_schema_to_public()
    return out


def credentials_of(attacker):
    """Every way a person of the attacker's district can show up: session and token of an admin,
    a community worker and a resident."""
    admin = admin_of(attacker)
    staff = make_user(attacker, "iso-staff", "community_staff", "community", "C01")
    resident = make_user(attacker, "iso-resident", "resident", phone="13600001111")
    creds = []
    for user in (admin, staff, resident):
        creds.append((f"session:{user.username}", client_for(attacker, user)))
        creds.append((f"token:{user.username}", client_for(attacker, user, token=True)))
    return creds


@pytest.mark.parametrize("attacker_slug,victim_slug", [("kangbashi", "laixi"), ("laixi", "kangbashi")])
def test_no_route_lets_one_district_into_another(attacker_slug, victim_slug, monkeypatch):
    from rest_framework.throttling import SimpleRateThrottle

    from tenants.models import District

    # Thousands of anonymous calls from one address: throttles (tested elsewhere) would answer 429 to
    # one of each pair and hide what the pair is here to compare.
    monkeypatch.setattr(SimpleRateThrottle, "allow_request", lambda self, request, view: True)
    from kernel.api import CountingThrottle  # the API's own throttles count in one Redis command

    monkeypatch.setattr(CountingThrottle, "allow_request", lambda self, request, view: True)

    attacker = District.objects.get(slug=attacker_slug)
    victim = District.objects.get(slug=victim_slug)
    victim_admin = admin_of(victim)
    with tenant_context(victim):
        role_id = victim_admin.role_assignments.first().pk
    ids = {"user_id": victim_admin.pk, "role_id": role_id, "pk": 1, "version": 1}
    routes = tenant_routes()
    assert any(r.startswith("api/v1/settings/") for r in routes) and any(r.startswith("api/v1/notices") for r in routes)
    before = snapshot(victim)
    anonymous = APIClient(HTTP_HOST=host(victim.slug), HTTP_ACCEPT_LANGUAGE="en")
    checked = 0
    for label, client in credentials_of(attacker):
        client.defaults["HTTP_HOST"] = host(victim.slug)  # same cookie / token, the other district's host
        for route in routes:
            path = fill(route, ids)
            for method in METHODS:
                if not route.startswith("api/") and method not in ("get", "post"):
                    continue
                crossed = getattr(client, method)(path, {}, format="json")
                plain = getattr(anonymous, method)(path, {}, format="json")
                checked += 1
                where = f"{label} {method.upper()} {path}"
                if 200 <= crossed.status_code < 300:
                    assert crossed.status_code == plain.status_code, where
                    if route not in VOLATILE:
                        assert normalized(crossed.content) == normalized(plain.content), f"{where}: the credential changed what was shown"
                elif crossed.status_code in (301, 302):
                    assert plain.status_code in (301, 302), where
                    assert "/login/" in crossed["Location"] or crossed["Location"] == plain["Location"], where
                else:
                    assert crossed.status_code in (plain.status_code, 400, 401, 403, 404, 405, 429), where
        who = client.get("/api/v1/me/")
        assert who.status_code in (401, 403), f"{label} is someone on {victim.slug}"
    assert checked > 100
    assert snapshot(victim) == before, "the other district's data changed"


def test_a_token_is_only_valid_in_its_own_schema(kangbashi, laixi):
    user = admin_of(kangbashi)
    with tenant_context(kangbashi):
        key = Token.objects.create(user=user).key
    with tenant_context(laixi):
        assert not Token.objects.filter(key=key).exists()
    client = client_for(laixi)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    response = client.get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_platform_staff_session_is_nobody_in_a_district(kangbashi):
    from django.db import transaction

    from accounts.services import create_user

    connection.set_schema_to_public()
    with transaction.atomic():
        ops = create_user(actor=None, username="ops-iso", password="x-very-long-1", is_staff=True, is_superuser=True)
    client = APIClient(HTTP_HOST="localhost")
    client.force_login(ops)
    client.defaults["HTTP_HOST"] = host(kangbashi.slug)
    assert client.get("/api/v1/me/").status_code in (401, 403)
    assert client.get("/admin/").status_code == 302
    assert client.get("/api/v1/settings/modules/").status_code in (401, 403)
