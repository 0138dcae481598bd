"""Module registry: enable/disable with dependency checks; a disabled module is 404 and absent
from that district's OpenAPI schema."""
import pytest
from django.db import connection

from kernel.models import AuditEntry
from modules.catalog import catalog
from tenants.models import District
from tests.conftest import admin_of, client_for, host

pytestmark = pytest.mark.django_db


def test_every_module_declares_a_complete_spec():
    keys = catalog.keys()
    assert {"registry", "codes", "cases", "points", "ratings", "participation", "notices"} <= set(keys)
    for spec in catalog:
        assert spec.name_zh and spec.name_en
        assert spec.config_schema.get("type") == "object"
        assert isinstance(spec.default_config(), dict)
        for dep in spec.depends:
            assert dep in keys
    assert catalog.dependents("registry") >= {"codes", "cases", "points", "ratings", "participation"}


def test_enable_checks_dependencies_and_explains(dongsheng):
    client = client_for(dongsheng, admin_of(dongsheng))
    response = client.put("/api/v1/settings/modules/", {"modules": ["notices", "points"]}, format="json")
    assert response.status_code == 200  # registry/codes are always on, so points' dependency is met
    connection.set_schema_to_public()
    assert set(District.objects.get(pk=dongsheng.pk).modules) >= {"notices", "points"}


def test_enabling_a_module_whose_dependency_is_off_is_refused(kangbashi, monkeypatch):
    from modules.spec import ModuleSpec

    specs = dict(catalog.specs)
    specs["extra"] = ModuleSpec(key="extra", name_zh="附加", name_en="Extra", depends=("points",))
    monkeypatch.setitem(catalog.__dict__, "specs", specs)
    client = client_for(kangbashi, admin_of(kangbashi))
    response = client.put("/api/v1/settings/modules/", {"modules": ["notices", "extra"]}, format="json")
    assert response.status_code == 400
    body = response.json()["error"]
    assert body["code"] == "module_dependency"
    assert "points" in body["message"] and "extra" in body["message"]
    connection.set_schema_to_public()
    assert "extra" not in District.objects.get(pk=kangbashi.pk).modules


def test_always_on_modules_cannot_be_turned_off(kangbashi):
    client = client_for(kangbashi, admin_of(kangbashi))
    response = client.post("/api/v1/settings/modules/registry/disable/")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "module_dependency"
    assert "cannot be turned off" in response.json()["error"]["message"]


def test_disabling_a_needed_module_names_its_dependents(kangbashi, monkeypatch):
    from modules.spec import ModuleSpec

    specs = dict(catalog.specs)
    specs["extra"] = ModuleSpec(key="extra", name_zh="附加", name_en="Extra", depends=("points",))
    monkeypatch.setitem(catalog.__dict__, "specs", specs)
    client = client_for(kangbashi, admin_of(kangbashi))
    assert client.post("/api/v1/settings/modules/extra/enable/").status_code == 200
    response = client.post("/api/v1/settings/modules/points/disable/")
    assert response.status_code == 400
    assert "extra" in response.json()["error"]["message"]
    connection.set_schema_to_public()
    assert "points" in District.objects.get(pk=kangbashi.pk).modules


def test_unknown_module_is_a_clear_error(kangbashi):
    client = client_for(kangbashi, admin_of(kangbashi))
    response = client.put("/api/v1/settings/modules/", {"modules": ["nope"]}, format="json")
    assert response.status_code == 400
    assert "nope" in response.json()["error"]["message"]


def test_disabled_module_pages_and_api_are_404(dongsheng, kangbashi):
    assert not dongsheng.has_module("notices")
    anon = client_for(dongsheng)
    assert anon.get("/api/v1/notices/").status_code == 404
    assert anon.get("/notices/").status_code == 404
    assert anon.get("/api/v1/notices/").json()["error"]["status"] == 404
    # the same routes answer where the module is on
    assert client_for(kangbashi).get("/api/v1/notices/").status_code == 200
    assert client_for(kangbashi).get("/notices/").status_code == 200


def test_disabled_module_is_absent_from_the_districts_schema(dongsheng, kangbashi):
    schema_off = client_for(dongsheng).get("/api/schema/", HTTP_ACCEPT="application/json").json()
    schema_on = client_for(kangbashi).get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert not [p for p in schema_off["paths"] if p.startswith("/api/v1/notices")]
    assert [p for p in schema_on["paths"] if p.startswith("/api/v1/notices")]
    assert "/api/v1/settings/modules/" in schema_off["paths"]


def test_turning_a_module_on_and_off_through_the_api(dongsheng):
    client = client_for(dongsheng, admin_of(dongsheng))
    response = client.post("/api/v1/settings/modules/notices/enable/")
    assert response.status_code == 200 and response.json()["enabled"] is True
    assert client_for(dongsheng).get("/api/v1/notices/").status_code == 200
    # enabling seeds the module: the welcome notice is there
    assert client_for(dongsheng).get("/api/v1/notices/").json()["count"] == 1
    response = client.post("/api/v1/settings/modules/notices/disable/")
    assert response.status_code == 200 and response.json()["enabled"] is False
    assert client_for(dongsheng).get("/api/v1/notices/").status_code == 404
    connection.set_tenant(District.objects.get(pk=dongsheng.pk))
    actions = list(AuditEntry.objects.filter(action="district.modules").values_list("after", flat=True))
    assert len(actions) == 2


def test_portal_navigation_follows_enabled_modules(kangbashi, dongsheng):
    page_on = client_for(kangbashi).get("/", HTTP_HOST=host("kangbashi")).content.decode()
    page_off = client_for(dongsheng).get("/").content.decode()
    assert 'data-module="notices"' in page_on
    assert 'data-module="notices"' not in page_off


def test_errors_speak_chinese_by_default(kangbashi):
    from rest_framework.test import APIClient

    client = client_for(kangbashi, admin_of(kangbashi))
    client.defaults.pop("HTTP_ACCEPT_LANGUAGE")
    message = client.post("/api/v1/settings/modules/registry/disable/").json()["error"]["message"]
    assert "不能关闭" in message
    assert isinstance(client, APIClient)


def test_portal_pages_are_chinese_first_with_an_english_switch(kangbashi):
    from django.test import Client

    browser = Client(HTTP_HOST="kangbashi.localhost", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    page = browser.get("/").content.decode()
    assert "本区县服务" in page and "登录" in page  # Chinese although the browser prefers English
    switched = browser.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert switched.status_code == 302
    assert "Sign in" in browser.get("/").content.decode()
