"""Every page of the public site (console, applications, billing, releases, lifecycle) in zh-Hans has no
English left in it, for each role that can open it: the same two checks as the district sweep
(tests/i18n/test_zh_hans_pages.py): no English word in the visible text, no message missing from the
catalogue. A named GET route no role can open fails the test, so a new page is never left unchecked."""
from __future__ import annotations

from collections import defaultdict

import pytest
from django.db import connection, transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.conftest import PASSWORD
from tests.i18n.test_zh_hans_pages import CatalogueMisses, english_words

pytestmark = pytest.mark.django_db

SKIP = {
    "schema": "the OpenAPI document (JSON/YAML)",
    "swagger-ui": "Swagger UI, a third-party page in English",
    "ready": "health probe (JSON)",
    "set_language": "POST only (the language switch)",
    "console:logout": "POST only",
    "console:district-status": "POST only (suspend / resume, from the districts page)",
    "lifecycle:restore": "POST only (restore an export as a new district)",
    "lifecycle:export-file": "a file download (schema dump, uploads archive, Excel workbook)",
    "console:district-go-live": "POST only (go live, from the district's page)",
    "console:district-invite": "POST only (re-issue the administrator's invitation; answers with the page)",
    "onboarding:submit": "POST only (from the application's page)",
    "onboarding:withdraw": "POST only (from the application's page)",
    "onboarding:comment": "POST only (from the application's page)",
    "onboarding:approve": "POST only (from the review page)",
    "onboarding:return": "POST only (from the review page)",
    "onboarding:retry": "POST only (from the progress page)",
    "releases:retry": "POST only (migrate one district again, from the releases page)",
}


def public_page_routes():
    def walk(patterns, prefix="", namespace=None):
        for p in patterns:
            if isinstance(p, URLResolver):
                ns = f"{namespace}:{p.namespace}" if namespace and p.namespace else (p.namespace or namespace)
                yield from walk(p.url_patterns, prefix + str(p.pattern), ns)
            elif isinstance(p, URLPattern) and p.name:
                yield (f"{namespace}:{p.name}" if namespace else p.name), prefix + str(p.pattern)

    for name, route in walk(get_resolver("config.urls_public").url_patterns):
        if not route.startswith(("api/", "admin/")):
            yield name, route


def samples(world) -> dict:
    """url name -> the kwargs lists to open it with (routes with ids)."""
    slug = {"slug": world["district"].slug}
    out = {}
    for name, route in public_page_routes():
        if "<" not in route:
            continue
        params = {p.split(">")[0].split(":")[-1] for p in route.split("<")[1:]}
        if params == {"slug"}:
            out[name] = [slug]
        elif params <= set(world["ids"]):
            out[name] = [{p: world["ids"][p] for p in params}]
    return out


@pytest.fixture
def world(kangbashi):
    from accounts.services import create_user
    from tenants.models import District
    from tenants.services import create_vendor, grant_platform_role

    connection.set_schema_to_public()
    vendor = create_vendor(actor=None, slug="zh-vendor", name_zh="中文服务商")
    District.objects.filter(pk=kangbashi.pk).update(vendor=vendor)
    # The test districts are named after their slugs (kangbashi区); give them the names a district has.
    for n, district in enumerate(District.objects.exclude(schema_name="public").order_by("pk")):
        District.objects.filter(pk=district.pk).update(name_zh=f"测试第{n + 1}区")
    clients, users = {}, {}
    for role in ("ops", "finance", "vendor"):
        with transaction.atomic():
            user = create_user(actor=None, username=f"zh-{role}", password=PASSWORD)
        grant_platform_role(actor=None, user=user, role=role, vendor=vendor if role == "vendor" else None)
        users[role] = user
        client = Client(HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="zh-Hans")
        client.force_login(user)
        clients[role] = client
    clients["visitor"] = Client(HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="zh-Hans")
    from django.core.files.uploadedfile import SimpleUploadedFile

    from onboarding.services import create_application
    from tests.onboarding.conftest import application_data, png_bytes

    application = create_application(actor=users["vendor"], vendor=vendor,
                                     data=application_data(slug="zh-apply", name_en=""),
                                     logo=SimpleUploadedFile("l.png", png_bytes()))  # a draft: its form opens too
    return {"district": kangbashi, "clients": clients, "ids": {"pk": application.pk}}


def test_every_console_page_is_in_chinese(world):
    sampled = samples(world)
    words: dict[str, dict[str, str]] = defaultdict(dict)
    opened: dict[str, list[str]] = defaultdict(list)
    unsampled = []
    with CatalogueMisses() as misses:
        for name, route in public_page_routes():
            if name in SKIP:
                continue
            if "<" in route and name not in sampled:
                unsampled.append(f"{name} ({route})")
                continue
            for kwargs in sampled.get(name, [{}]):
                url = reverse(name, kwargs=kwargs, urlconf="config.urls_public")
                for role, client in world["clients"].items():
                    connection.set_schema_to_public()
                    response = client.get(url)
                    if response.status_code == 200 and "text/html" in response.get("Content-Type", ""):
                        opened[name].append(role)
                        found = english_words(response.content.decode())
                        if found:
                            words[f"{url} [{name}] as {role}"] |= found
                    elif response.status_code in (200, 405):
                        opened[name].append(role)
                    assert response.status_code < 500, f"{url} as {role}: {response.status_code}"
    unopened = [name for name, route in public_page_routes()
                if name not in SKIP and not opened[name] and f"{name} ({route})" not in unsampled]
    problems = []
    if unsampled:
        problems.append("routes needing ids without a sample (extend samples()):\n  " + "\n  ".join(unsampled))
    if unopened:
        problems.append("routes no role could open:\n  " + "\n  ".join(unopened))
    if words:
        problems.append("English words on zh-Hans pages:\n  " + "\n  ".join(
            f"{where}: " + "; ".join(f"{w} in «{t}»" for w, t in sorted(found.items()))
            for where, found in sorted(words.items())))
    if misses.missed:
        problems.append("messages without a zh-Hans translation:\n  " + "\n  ".join(sorted(misses.missed)))
    assert not problems, "\n\n".join(problems)
