"""Module configuration: validated against the module's schema, versioned, restorable."""
import pytest
from django_tenants.utils import tenant_context

from kernel.errors import DomainError
from kernel.models import AuditEntry, ModuleConfig
from kernel.selectors import module_config
from tests.conftest import admin_of, client_for

pytestmark = pytest.mark.django_db

URL = "/api/v1/settings/modules/cases/config/"


def test_defaults_come_from_the_schema(admin_client):
    body = admin_client.get(URL).json()
    assert body["version"] is None
    assert body["data"]["grab_cap_per_worker"] == 5
    assert body["schema"]["properties"]["grab_cap_per_worker"]["type"] == "integer"


def test_bad_config_is_a_400_naming_the_field_and_nothing_is_saved(admin_client, kangbashi):
    good = admin_client.get(URL).json()["data"]
    bad = {**good, "grab_cap_per_worker": "lots"}
    response = admin_client.put(URL, {"data": bad}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "config_invalid"
    assert "grab_cap_per_worker" in error["fields"]
    assert "grab_cap_per_worker" in error["message"]
    unknown = admin_client.put(URL, {"data": {**good, "colour": 1}}, format="json").json()["error"]
    assert "colour" in unknown["fields"]
    nested = admin_client.put("/api/v1/settings/modules/points/config/",
                              {"data": {"tiers": [{"key": "x", "name_zh": "", "min_points": -1}]}}, format="json")
    assert nested.status_code == 400
    assert set(nested.json()["error"]["fields"]) == {"tiers.0.name_zh", "tiers.0.min_points"}
    with tenant_context(kangbashi):
        assert ModuleConfig.objects.filter(module_key__in=["cases", "points"]).count() == 0
        assert not AuditEntry.objects.filter(action="module_config.update").exists()


def test_each_change_is_a_version_with_who_and_when_and_can_be_restored(admin_client, kangbashi):
    base = admin_client.get(URL).json()["data"]
    first = admin_client.put(URL, {"data": {**base, "grab_cap_per_worker": 3}, "note": "tighter"}, format="json")
    assert first.status_code == 200 and first.json()["version"] == 1
    second = admin_client.put(URL, {"data": {**base, "grab_cap_per_worker": 9}}, format="json")
    assert second.json()["version"] == 2
    versions = admin_client.get(URL + "versions/").json()
    assert [v["version"] for v in versions["results"]] == [2, 1]
    assert versions["results"][1]["note"] == "tighter"
    assert versions["results"][1]["created_by"] == "admin"
    restored = admin_client.post(URL + "versions/1/restore/")
    assert restored.status_code == 200
    assert restored.json()["version"] == 3 and restored.json()["restored_from"] == 1
    assert admin_client.get(URL).json()["data"]["grab_cap_per_worker"] == 3
    with tenant_context(kangbashi):
        assert module_config("cases")["grab_cap_per_worker"] == 3
        actions = list(AuditEntry.objects.filter(target_type="kernel.moduleconfig").values_list("action", flat=True))
        assert sorted(actions) == ["module_config.restore", "module_config.update", "module_config.update"]
    assert admin_client.post(URL + "versions/99/restore/").status_code == 404


def test_configuration_is_per_district(kangbashi, laixi):
    k = client_for(kangbashi, admin_of(kangbashi))
    base = k.get(URL).json()["data"]
    k.put(URL, {"data": {**base, "response_hours": 2}}, format="json")
    laixi_admin = client_for(laixi, admin_of(laixi))
    assert laixi_admin.get(URL).json()["data"]["response_hours"] == 24


def test_only_the_district_admin_edits_configuration(kangbashi):
    from tests.conftest import make_user

    staff = make_user(kangbashi, "staff1", "community_staff", "community", "C01")
    client = client_for(kangbashi, staff)
    assert client.get(URL).status_code == 403
    assert client.put(URL, {"data": {}}, format="json").status_code == 403
    assert client_for(kangbashi).get(URL).status_code in (401, 403)


def test_branding_logo_is_checked_by_content_and_served_to_its_district_only(kangbashi, laixi, settings, tmp_path):
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    from tenants.services import update_branding

    settings.MEDIA_ROOT = tmp_path
    fake = SimpleUploadedFile("logo.png", b"<svg onload=alert(1)>", content_type="image/png")
    with pytest.raises(DomainError) as bad:
        update_branding(actor=None, district=kangbashi, logo=fake)
    assert "logo" in bad.value.fields
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), "red").save(buf, "JPEG")
    district = update_branding(actor=None, district=kangbashi, logo=SimpleUploadedFile("x.png", buf.getvalue()))
    assert district.logo.name.endswith(".jpg")
    with tenant_context(district):
        url = district.logo.url
    assert url.startswith(f"/media/{district.schema_name}/")
    assert client_for(kangbashi).get(url).status_code == 200
    assert client_for(laixi).get(url).status_code == 404
    admin = client_for(kangbashi, admin_of(kangbashi))
    response = admin.patch("/api/v1/settings/branding/", {"primary_color": "red"}, format="json")
    assert response.status_code == 400 and "primary_color" in response.json()["error"]["fields"]
    ok = admin.patch("/api/v1/settings/branding/", {"primary_color": "#123456"}, format="json")
    assert ok.status_code == 200 and ok.json()["primary_color"] == "#123456"


def test_config_errors_speak_the_admins_language(kangbashi):
    admin = client_for(kangbashi, admin_of(kangbashi))
    base = admin.get(URL).json()["data"]
    english = admin.put(URL, {"data": {**base, "grab_cap_per_worker": 0}}, format="json").json()["error"]
    assert english["fields"]["grab_cap_per_worker"] == ["must be at least 1"]
    admin.defaults["HTTP_ACCEPT_LANGUAGE"] = "zh-hans"
    chinese = admin.put(URL, {"data": {**base, "grab_cap_per_worker": "x"}}, format="json").json()["error"]
    assert chinese["fields"]["grab_cap_per_worker"] == ["必须是整数"]
