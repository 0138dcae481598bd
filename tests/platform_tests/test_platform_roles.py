"""Roles on the public site (tenants.access): ops see everything, finance reads everything and changes
no district, a vendor sees only its own districts (and, through the same rule, its own applications,
invoices and contacts), a public user without a role sees nothing. Every route of the public URLconf
is walked, so pages and API added later are covered too."""
from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db
METHODS = ("get", "post", "put", "patch", "delete")
SKIP_PREFIXES = ("admin/", "static/", "media/", "i18n/", "api/schema", "api/docs", "health", "ready",
                 "login/", "logout/", "favicon", "billing/stripe/")  # Stripe's webhook answers by signature
PUBLIC_ROUTES = {"", "login/", "logout/"}
# What every vendor is shown alike, though it names a district: the application form's starting
# rulebooks (the report districts' rules, e.g. 康巴什区规则).
SHARED_WITH_EVERY_VENDOR = re.compile(r'<select[^>]*name="seed_template".*?</select>', re.S)


def walk(patterns, prefix=""):
    for p in patterns:
        route = prefix + str(p.pattern)
        if isinstance(p, URLResolver):
            yield from walk(p.url_patterns, route)
        elif isinstance(p, URLPattern):
            yield route


def public_routes() -> list[str]:
    routes = sorted(set(walk(get_resolver("config.urls_public").url_patterns)))
    return [r for r in routes if r not in PUBLIC_ROUTES and not r.startswith(SKIP_PREFIXES)]


def fill(route: str, values: dict) -> str:
    def value(match):
        name = match.group(2)
        return str(values.get(name, values.get("*", "1")))

    route = re.sub(r"<(?:(\w+):)?(\w+)>", value, route)
    return "/" + route.lstrip("^").rstrip("$")


@pytest.fixture
def people(kangbashi, laixi):
    """Two vendors: A rolled out Kangbashi, B rolled out Laixi; plus ops, finance and a role-less staff user."""
    from accounts.services import create_user
    from tenants.models import District
    from tenants.services import create_vendor, grant_platform_role

    connection.set_schema_to_public()
    vendor_a = create_vendor(actor=None, slug="vendor-a", name_zh="甲服务商")
    vendor_b = create_vendor(actor=None, slug="vendor-b", name_zh="乙服务商")
    District.objects.filter(pk=kangbashi.pk).update(vendor=vendor_a)
    District.objects.filter(pk=laixi.pk).update(vendor=vendor_b)
    users = {}
    for username, role, vendor in (("p-ops", "ops", None), ("p-fin", "finance", None),
                                   ("p-va", "vendor", vendor_a), ("p-vb", "vendor", vendor_b), ("p-none", None, None)):
        with transaction.atomic():
            user = create_user(actor=None, username=username, password=PASSWORD, is_staff=True)
        if role:
            grant_platform_role(actor=None, user=user, role=role, vendor=vendor)
        users[username] = user
    return users


def client(user) -> APIClient:
    connection.set_schema_to_public()
    c = APIClient(HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="en")
    c.force_login(get_user_model().objects.get(pk=user.pk))
    return c


def test_a_vendor_lists_only_its_own_districts_and_ops_and_finance_list_all(people):
    for username, expected in (("p-va", {"kangbashi"}), ("p-vb", {"laixi"})):
        body = client(people[username]).get("/api/v1/districts/").json()
        assert {d["slug"] for d in body["results"]} == expected, username
        page = client(people[username]).get("/console/").content.decode()
        assert ("kangbashi" in page) == ("kangbashi" in expected) and ("laixi" in page) == ("laixi" in expected)
    for username in ("p-ops", "p-fin"):
        slugs = {d["slug"] for d in client(people[username]).get("/api/v1/districts/").json()["results"]}
        assert {"kangbashi", "laixi", "dongsheng"} <= slugs, username
    assert client(people["p-none"]).get("/api/v1/districts/").status_code == 403
    assert client(people["p-none"]).get("/console/").status_code == 403
    assert client(people["p-va"]).get("/api/v1/districts/laixi/").status_code == 404
    assert client(people["p-va"]).get("/api/v1/districts/kangbashi/").json()["vendor"] == "vendor-a"


def test_only_ops_change_a_district_and_never_without_a_reason(people, kangbashi):
    from kernel.models import AuditEntry

    for username in ("p-va", "p-fin", "p-none"):
        answer = client(people[username]).post("/api/v1/districts/kangbashi/status/",
                                               {"status": "suspended", "reason": "x"}, format="json")
        assert answer.status_code == 403, username
        page = client(people[username]).post("/console/districts/kangbashi/status/",
                                             {"status": "suspended", "reason": "x", "confirm": "1"})
        assert page.status_code == 403, username
    connection.set_schema_to_public()
    kangbashi.refresh_from_db()
    assert kangbashi.status == "active"
    ops = client(people["p-ops"])
    assert ops.post("/api/v1/districts/kangbashi/status/", {"status": "suspended", "reason": " "},
                    format="json").status_code == 400
    # Archiving is the lifecycle's (it records the retention period too), never a bare status change.
    assert ops.post("/api/v1/districts/kangbashi/status/", {"status": "archived", "reason": "合同终止"},
                    format="json").status_code == 400
    ops.post("/console/districts/kangbashi/status/", {"status": "archived", "reason": "合同终止", "confirm": "1"})
    connection.set_schema_to_public()
    kangbashi.refresh_from_db()
    assert kangbashi.status == "active"
    answer = ops.post("/api/v1/districts/kangbashi/status/", {"status": "suspended", "reason": "合同到期未续"},
                      format="json")
    assert answer.status_code == 200 and answer.json()["status"] == "suspended"
    connection.set_schema_to_public()
    entry = AuditEntry.objects.filter(action="district.status", target_id=str(kangbashi.pk)).latest("pk")
    assert entry.after == {"status": "suspended", "reason": "合同到期未续"} and entry.actor_id == people["p-ops"].pk


def test_the_console_shows_each_role_its_own_menu(people):
    ops = client(people["p-ops"]).get("/console/").content.decode()
    vendor = client(people["p-va"]).get("/console/").content.decode()
    finance = client(people["p-fin"]).get("/console/").content.decode()
    assert 'href="/console/releases/"' in ops and 'href="/console/releases/"' not in vendor
    assert 'href="/console/applications/"' in vendor and 'href="/console/applications/"' not in finance
    assert 'href="/billing/"' in finance
    assert "district-status" not in vendor and 'name="reason"' not in vendor  # no status buttons for a vendor


def test_no_public_route_shows_one_vendor_anything_of_another(people, kangbashi):
    """Vendor B walks every public route with vendor A's district (and every id 1..3) in the path: each
    answer is refused or empty of A's district, whatever the method."""
    routes = public_routes()
    assert any(r.startswith("api/v1/districts") for r in routes)
    b = client(people["p-vb"])
    leaks = []
    for route in routes:
        for values in ({"slug": "kangbashi", "*": "1"}, {"slug": "kangbashi", "*": "2"}):
            url = fill(route, values)
            for method in METHODS:
                answer = getattr(b, method)(url, {}, format="json") if method != "get" else b.get(url)
                body = SHARED_WITH_EVERY_VENDOR.sub("", answer.content.decode(errors="replace"))
                if answer.status_code < 400 and ("kangbashi" in body or "康巴什" in body or "vendor-a" in body
                                                 or "甲服务商" in body):
                    leaks.append(f"{method.upper()} {url} -> {answer.status_code}")
    assert not leaks, leaks
