"""The integration API: hotline / mailbox intake with per-integration keys (idempotent on their own
case number, scoped to their own cases and district, throttled per integration), and the district
administrator's management of integrations, keys, secrets and deliveries."""
import pytest
from django_tenants.utils import tenant_context

from kernel.models import AuditEntry
from modules.cases.intake import integrations
from modules.cases.models import Case, Integration, WebhookDelivery
from tests.conftest import client_for

pytestmark = pytest.mark.django_db
INTAKE = "/api/v1/cases/intake/"
ADMIN = "/api/v1/cases/integrations/"
CALL = {"external_id": "12345-0001", "category": "corridor_clutter", "title": "楼道堆物",
        "description": "市民来电：三楼楼道堆满纸箱", "grid": "G0101", "address": "康和小区3号楼",
        "contact": "13912345678", "latitude": 39.6081234, "longitude": 109.7812345}


def make(world, kind="hotline", name="12345 热线", webhook_url=""):
    with tenant_context(world.district):
        return integrations.create_integration(actor=world.admin, name=name, kind=kind, webhook_url=webhook_url)


def caller(district, key, *, header="Authorization"):
    client = client_for(district)
    client.credentials(**({"HTTP_AUTHORIZATION": f"Integration {key}"} if header == "Authorization"
                          else {"HTTP_X_API_KEY": key}))
    return client


def error(response, status):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and body["error"]["status"] == status
    return body["error"]


def test_the_hotline_files_a_case_and_a_retry_returns_the_same_one(world):
    hotline, key = make(world)
    made = caller(world.district, key).post(INTAKE, CALL, format="json")
    assert made.status_code == 201, made.content
    case = made.json()
    assert case["ref"] and case["external_id"] == "12345-0001" and case["channel"] == "hotline"
    assert case["status"] == "assigned" and case["response_due"] and case["resolution_due"]
    assert case["status_url"].endswith("/api/v1/cases/intake/12345-0001/")
    again = caller(world.district, key, header="X-Api-Key").post(INTAKE, {**CALL, "title": "重复推送"}, format="json")
    assert again.status_code == 200 and again.json()["id"] == case["id"] and again.json()["title"] == "楼道堆物"
    with tenant_context(world.district):
        stored = Case.objects.get(integration=hotline, external_id="12345-0001")
        assert Case.objects.filter(external_id="12345-0001").count() == 1
        assert stored.assignee == world.gw1 and stored.reporter is None and str(stored.latitude) == "39.608123"
        assert stored.reporter_contact_masked == "139****5678" and stored.address == "康和小区3号楼"
        assert Integration.objects.get(pk=hotline.pk).last_used_at is not None


def test_the_mailbox_may_leave_out_its_number_and_retries_with_an_idempotency_key(world):
    _mailbox, key = make(world, kind="mailbox", name="市民信箱")
    letter = {"category": "noise", "title": "夜间施工噪音", "community": "C02"}
    client = caller(world.district, key)
    one = client.post(INTAKE, letter, format="json", HTTP_IDEMPOTENCY_KEY="letter-7")
    two = client.post(INTAKE, letter, format="json", HTTP_IDEMPOTENCY_KEY="letter-7")
    assert (one.status_code, two.status_code) == (201, 200) and one.json()["id"] == two.json()["id"]
    assert one.json()["channel"] == "mailbox" and one.json()["external_id"] == ""
    status = client.get(f"{INTAKE}{one.json()['ref']}/")  # no number of theirs: our ref finds it
    assert status.status_code == 200 and status.json()["id"] == one.json()["id"]


def test_missing_or_unknown_fields_answer_400_naming_them_and_save_nothing(world):
    _hotline, key = make(world)
    client = caller(world.district, key)
    empty = error(client.post(INTAKE, {}, format="json"), 400)
    assert set(empty["fields"]) == {"external_id", "category", "title"}
    assert set(error(client.post(INTAKE, {**CALL, "grid": "G9999", "household": 999999}, format="json"),
                     400)["fields"]) == {"grid", "household"}
    assert "category" in error(client.post(INTAKE, {**CALL, "category": "ufo"}, format="json"), 400)["fields"]
    assert "title" in error(client.post(INTAKE, {**CALL, "title": "长" * 81}, format="json"), 400)["fields"]
    assert "contact" in error(client.post(INTAKE, {**CALL, "contact": "12"}, format="json"), 400)["fields"]
    with tenant_context(world.district):
        assert not Case.objects.exists()


def test_wrong_absent_revoked_and_inactive_keys_answer_401(world):
    hotline, key = make(world)
    assert error(client_for(world.district).post(INTAKE, CALL, format="json"), 401)["code"] == "not_authenticated"
    assert error(caller(world.district, "msk_0000_forged").post(INTAKE, CALL, format="json"), 401)
    assert error(caller(world.district, "not-even-a-key", header="X-Api-Key").post(INTAKE, CALL, format="json"), 401)
    # a signed-in user (even the admin) is not an integration
    assert error(client_for(world.district, world.admin, token=True).post(INTAKE, CALL, format="json"), 401)
    with tenant_context(world.district):
        new_key = integrations.rotate_key(actor=world.admin, integration=hotline)
    assert error(caller(world.district, key).post(INTAKE, CALL, format="json"), 401)
    assert caller(world.district, new_key).post(INTAKE, CALL, format="json").status_code == 201
    with tenant_context(world.district):
        integrations.update_integration(actor=world.admin, integration=hotline, active=False)
    assert error(caller(world.district, new_key).get(f"{INTAKE}{CALL['external_id']}/"), 401)


def test_keys_belong_to_their_district(world, dongsheng, laixi):
    _hotline, key = make(world)
    assert error(caller(dongsheng, key).post(INTAKE, CALL, format="json"), 401)
    assert error(caller(laixi, key).post(INTAKE, CALL, format="json"), 404)  # cases is off there


def test_a_key_opens_the_intake_only(world):
    _hotline, key = make(world)
    assert error(caller(world.district, key).get("/api/v1/cases/"), 401)
    assert error(caller(world.district, key).get(ADMIN), 401)
    assert error(caller(world.district, key).get("/api/v1/me/"), 401)


def test_an_open311_client_is_sent_to_open311(world):
    _client, key = make(world, kind="open311", name="Open311 app")
    refused = error(caller(world.district, key).post(INTAKE, CALL, format="json"), 403)
    assert refused["code"] == "use_open311" and "/open311/" in refused["message"]


def test_an_integration_reads_its_own_cases_only(world):
    _hotline, key = make(world)
    _mailbox, other_key = make(world, kind="mailbox", name="市民信箱")
    caller(world.district, key).post(INTAKE, CALL, format="json")
    url = f"{INTAKE}{CALL['external_id']}/"
    status = caller(world.district, key).get(url)
    assert status.status_code == 200
    body = status.json()
    assert body["status"] == "assigned" and body["result"] == "" and body["duplicate_of"] is None
    assert [(s["kind"], s["status"]) for s in body["timeline"]] == [("submitted", "submitted"),
                                                                    ("assigned", "assigned")]
    assert "reporter_contact" not in body and "13912345678" not in status.content.decode()
    assert error(caller(world.district, other_key).get(url), 404)
    assert error(caller(world.district, key).get(f"{INTAKE}nope/"), 404)


def test_intake_is_throttled_per_integration(world, settings):
    from rest_framework.settings import api_settings

    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **api_settings.DEFAULT_THROTTLE_RATES, "integration": "2/min"}}
    _hotline, key = make(world)
    _mailbox, other_key = make(world, kind="mailbox", name="市民信箱")
    client = caller(world.district, key)
    codes = [client.get(f"{INTAKE}x{i}/").status_code for i in range(3)]
    assert codes == [404, 404, 429]
    assert error(client.get(f"{INTAKE}x/"), 429)["code"] == "throttled"
    assert caller(world.district, other_key).post(INTAKE, CALL, format="json").status_code == 201


# --- management -------------------------------------------------------------------------------------------

def test_the_district_admin_manages_integrations(world):
    admin = client_for(world.district, world.admin)
    made = admin.post(ADMIN, {"name": "12345 热线", "kind": "hotline", "webhook_url": "https://rx.example/hook"},
                      format="json")
    assert made.status_code == 201, made.content
    body = made.json()
    assert body["key"].startswith(f"msk_{body['key_prefix']}_") and "key_hash" not in body
    pk, first_key = body["id"], body["key"]
    assert caller(world.district, first_key).post(INTAKE, CALL, format="json").status_code == 201
    listed = admin.get(f"{ADMIN}?kind=hotline").json()
    assert listed["count"] == 1 and set(listed["results"][0]) == {
        "id", "name", "kind", "key_prefix", "webhook_url", "active", "created_at", "created_by", "last_used_at"}
    bad = error(admin.post(ADMIN, {"name": "", "kind": "fax"}, format="json"), 400)
    assert set(bad["fields"]) == {"name", "kind"}
    patched = admin.patch(f"{ADMIN}{pk}/", {"webhook_url": "https://rx.example/v2", "active": False}, format="json")
    assert patched.status_code == 200 and patched.json()["webhook_url"] == "https://rx.example/v2"
    assert patched.json()["active"] is False and patched.json()["name"] == "12345 热线"
    assert "webhook_url" in error(admin.patch(f"{ADMIN}{pk}/", {"webhook_url": "ftp://x"}, format="json"),
                                  400)["fields"]
    admin.patch(f"{ADMIN}{pk}/", {"active": True}, format="json")
    rotated = admin.post(f"{ADMIN}{pk}/rotate-key/").json()
    assert rotated["key"] != first_key and rotated["key"].startswith(f"msk_{rotated['key_prefix']}_")
    assert error(caller(world.district, first_key).get(f"{INTAKE}{CALL['external_id']}/"), 401)
    assert caller(world.district, rotated["key"]).get(f"{INTAKE}{CALL['external_id']}/").status_code == 200
    secret = admin.post(f"{ADMIN}{pk}/webhook-secret/").json()["secret"]
    with tenant_context(world.district):
        integration = Integration.objects.get(pk=pk)
        assert secret == integrations.webhook_secret(integration) and len(secret) >= 32
        actions = set(AuditEntry.objects.filter(target_type="cases.integration", target_id=str(pk))
                      .values_list("action", flat=True))
        assert actions == {"cases.integration.create", "cases.integration.update", "cases.integration.rotate_key",
                           "cases.integration.reveal_secret"}
        logged = str(list(AuditEntry.objects.values_list("before", "after")))
        assert secret not in logged and rotated["key"] not in logged and first_key not in logged
    assert admin.get(f"{ADMIN}999999/").status_code == 404


def test_deliveries_are_listed_for_the_admin(world):
    hotline, key = make(world, webhook_url="https://hotline.invalid/unreachable")
    caller(world.district, key).post(INTAKE, CALL, format="json")
    with tenant_context(world.district):
        from kernel.events import relay_pending

        relay_pending()
        assert WebhookDelivery.objects.filter(integration=hotline).count() == 1
    rows = client_for(world.district, world.admin).get(f"{ADMIN}{hotline.pk}/deliveries/?status=pending")
    assert rows.status_code == 200 and rows.json()["count"] == 1
    row = rows.json()["results"][0]
    assert row["kind"] == "cases.submitted" and row["attempts"] == 0 and row["case"].endswith("-0001")
    assert "payload" not in row
    assert client_for(world.district, world.admin).get(f"{ADMIN}{hotline.pk}/deliveries/?status=failed").json()[
        "count"] == 0
    # the Django admin shows both, read-only, without the key's hash or the secret
    from django.test import Client

    from tests.conftest import host

    site = Client(HTTP_HOST=host(world.district.slug))
    with tenant_context(world.district):
        site.force_login(world.admin, backend="django.contrib.auth.backends.ModelBackend")
        secret, delivery = integrations.webhook_secret(hotline), WebhookDelivery.objects.get()
    for url in ("/admin/cases/integration/", f"/admin/cases/integration/{hotline.pk}/change/",
                "/admin/cases/webhookdelivery/", f"/admin/cases/webhookdelivery/{delivery.pk}/change/"):
        page = site.get(url)
        assert page.status_code == 200, url
        assert hotline.key_hash not in page.content.decode() and secret not in page.content.decode()
        assert b'name="_save"' not in page.content


@pytest.mark.parametrize("who", ["staff_c1", "gw1", "reporter"])
def test_only_district_admins_manage_integrations(world, who):
    hotline, _key = make(world)
    client = client_for(world.district, getattr(world, who))
    for method, url in (("get", ADMIN), ("post", ADMIN), ("get", f"{ADMIN}{hotline.pk}/"),
                        ("patch", f"{ADMIN}{hotline.pk}/"), ("post", f"{ADMIN}{hotline.pk}/rotate-key/"),
                        ("post", f"{ADMIN}{hotline.pk}/webhook-secret/"),
                        ("get", f"{ADMIN}{hotline.pk}/deliveries/")):
        assert error(getattr(client, method)(url, {}, format="json"), 403), url
    assert error(client_for(world.district).get(ADMIN), 401)
    with tenant_context(world.district):
        assert Integration.objects.get(pk=hotline.pk).key_hash == hotline.key_hash


def test_the_schema_documents_the_integration_api(world):
    schema = client_for(world.district).get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert {"/api/v1/cases/intake/", "/api/v1/cases/intake/{external_id}/", "/api/v1/cases/integrations/",
            "/api/v1/cases/integrations/{id}/rotate-key/"} <= set(schema["paths"])
    assert schema["components"]["securitySchemes"]["IntegrationKey"]["name"] == "X-Api-Key"
    assert "key_hash" not in str(schema)
