"""Who reaches the lifecycle pages and API (ops only; a vendor gets 404 for another vendor's district and
403 for its own), and the API's rules: reason and confirmation, one export under way, deletion refused
with the reason in words, downloads audit-logged. Rolled back (no pg_dump here: see test_export_restore)."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from kernel.models import AuditEntry
from tenants.lifecycle.models import DistrictArchive, DistrictExport
from tests.billing.fixtures import localstripe_url, use_localstripe  # noqa: F401 - fixtures
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _public_user(username: str, role: str | None = None, vendor=None):
    from accounts.services import create_user
    from tenants.services import grant_platform_role

    connection.set_schema_to_public()
    with transaction.atomic():
        user = create_user(actor=None, username=username, password=PASSWORD)
    if role:
        grant_platform_role(actor=None, user=user, role=role, vendor=vendor)
    return get_user_model().objects.get(pk=user.pk)


def _client(user) -> APIClient:
    client = APIClient(HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


@pytest.fixture
def people(kangbashi, dongsheng):
    from tenants.services import create_vendor

    ours = create_vendor(actor=None, slug="lc-ours", name_zh="本方")
    theirs = create_vendor(actor=None, slug="lc-theirs", name_zh="他方")
    kangbashi.vendor = ours
    kangbashi.save(update_fields=["vendor"])
    dongsheng.vendor = theirs
    dongsheng.save(update_fields=["vendor"])
    return {"ops": _client(_public_user("lc-ops", "ops")),
            "vendor": _client(_public_user("lc-vendor", "vendor", ours)),
            "finance": _client(_public_user("lc-fin", "finance"))}


@pytest.fixture
def done_export(kangbashi, settings, tmp_path):
    """A finished export of dongsheng with a real file (as the job leaves it)."""
    settings.DISTRICT_EXPORT_ROOT = tmp_path
    from tenants.lifecycle.exports import digest
    from tenants.models import District

    dongsheng = District.objects.get(slug="dongsheng")
    folder = tmp_path / "dongsheng" / "1"
    folder.mkdir(parents=True)
    (folder / "d_dongsheng.dump").write_bytes(b"PGDMP fake dump")
    sha, size = digest(folder / "d_dongsheng.dump")
    now = timezone.now()
    return DistrictExport.objects.create(district=dongsheng, slug="dongsheng", schema_name="d_dongsheng",
                                         reason="test", status="done", step="done", started_at=now, finished_at=now,
                                         dump_path="dongsheng/1/d_dongsheng.dump", dump_sha256=sha, dump_size=size)


def test_a_vendor_reaches_none_of_it(people, done_export):
    vendor = people["vendor"]
    assert vendor.get("/api/v1/lifecycle/districts/").status_code == 403
    assert vendor.get("/api/v1/lifecycle/tombstones/").status_code == 403
    # another vendor's district, and its export: as if they did not exist
    assert vendor.get("/api/v1/lifecycle/districts/dongsheng/").status_code == 404
    assert vendor.post("/api/v1/lifecycle/districts/dongsheng/archive/", {"reason": "x", "confirm": True},
                       format="json").status_code == 404
    assert vendor.get(f"/api/v1/lifecycle/exports/{done_export.pk}/").status_code == 404
    assert vendor.get(f"/api/v1/lifecycle/exports/{done_export.pk}/files/dump/").status_code == 404
    assert vendor.post(f"/api/v1/lifecycle/exports/{done_export.pk}/restore/",
                       {"slug": "x-copy", "reason": "x", "confirm": True}, format="json").status_code == 404
    # its own district: not the vendor's to archive, export or delete
    assert vendor.get("/api/v1/lifecycle/districts/kangbashi/").status_code == 403
    for action in ("archive", "exports", "delete"):
        response = vendor.post(f"/api/v1/lifecycle/districts/kangbashi/{action}/", {"reason": "x", "confirm": True},
                               format="json")
        assert response.status_code == 403, action
    assert vendor.get("/console/lifecycle/").status_code == 403
    assert vendor.get("/console/lifecycle/dongsheng/").status_code == 404
    assert vendor.get("/console/lifecycle/kangbashi/").status_code == 403
    assert vendor.post("/console/lifecycle/kangbashi/archive/", {"reason": "x", "confirm": "1"}).status_code == 403
    assert vendor.get(f"/console/lifecycle/exports/{done_export.pk}/files/dump/").status_code == 404
    assert people["finance"].get("/api/v1/lifecycle/districts/").status_code == 403
    assert APIClient(HTTP_HOST="localhost").get("/api/v1/lifecycle/districts/").status_code == 401
    from tenants.models import District

    assert District.objects.get(slug="kangbashi").status == "active"
    assert not DistrictExport.objects.filter(slug="kangbashi").exists()


def test_ops_archive_export_and_delete_rules_over_the_api(people, done_export):
    ops = people["ops"]
    url = "/api/v1/lifecycle/districts/kangbashi/"
    unconfirmed = ops.post(url + "archive/", {"reason": "合同到期"}, format="json")
    assert unconfirmed.status_code == 400 and "confirm" in unconfirmed.json()["error"]["fields"]
    no_reason = ops.post(url + "archive/", {"reason": "", "confirm": True}, format="json")
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["error"]["fields"]
    bad_days = ops.post(url + "archive/", {"reason": "x", "confirm": True, "retention_days": 0}, format="json")
    assert bad_days.status_code == 400
    from tenants.models import District

    assert District.objects.get(slug="kangbashi").status == "active"  # nothing half-done
    archived = ops.post(url + "archive/", {"reason": "合同到期", "confirm": True, "retention_days": 90}, format="json")
    assert archived.status_code == 200, archived.json()
    assert archived.json()["retention_days"] == 90
    assert ops.post(url + "archive/", {"reason": "again", "confirm": True}, format="json").status_code == 409

    first = ops.post(url + "exports/", {"reason": "移交", "confirm": True}, format="json")
    again = ops.post(url + "exports/", {"reason": "移交", "confirm": True}, format="json")
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"] and first.json()["status"] == "queued"
    assert DistrictExport.objects.filter(slug="kangbashi").count() == 1

    refused = ops.post(url + "delete/", {"reason": "到期", "confirm": True}, format="json")
    assert refused.status_code == 409 and "retention" in refused.json()["error"]["message"]
    DistrictArchive.objects.filter(slug="kangbashi").update(delete_not_before=timezone.now() - dt.timedelta(days=1))
    refused = ops.post(url + "delete/", {"reason": "到期", "confirm": True}, format="json")
    assert refused.status_code == 409 and "export" in refused.json()["error"]["message"]
    assert District.objects.get(slug="kangbashi").status == "archived"

    detail = ops.get(url).json()
    assert detail["district"]["archive"]["retention_days"] == 90 and detail["deletable"] is False
    assert detail["exports"][0]["step"] == "waiting" and detail["why_not_deletable"]
    listing = ops.get("/api/v1/lifecycle/districts/").json()
    assert {"count", "results"} <= set(listing) and "kangbashi" in [d["slug"] for d in listing["results"]]
    assert ops.get("/api/v1/lifecycle/tombstones/").status_code == 200

    download = ops.get(f"/api/v1/lifecycle/exports/{done_export.pk}/files/dump/")
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"PGDMP fake dump"
    assert AuditEntry.objects.filter(action="lifecycle.export.download", target_id=str(done_export.pk)).exists()
    assert ops.get(f"/api/v1/lifecycle/exports/{done_export.pk}/files/workbook/").status_code == 404
    assert ops.get(f"/api/v1/lifecycle/exports/{done_export.pk}/files/secrets/").status_code == 404
    files = ops.get(f"/api/v1/lifecycle/exports/{done_export.pk}/").json()["files"]
    assert files == [{"kind": "dump", "sha256": done_export.dump_sha256, "size": done_export.dump_size,
                      "url": f"/api/v1/lifecycle/exports/{done_export.pk}/files/dump/"}]
    taken = ops.post(f"/api/v1/lifecycle/exports/{done_export.pk}/restore/",
                     {"slug": "kangbashi", "reason": "x", "confirm": True}, format="json")
    assert taken.status_code == 409 and "slug" in taken.json()["error"]["fields"]


def test_console_pages_ask_for_a_confirmation(people, done_export):
    from tenants.models import District

    ops = people["ops"]
    ops.credentials(HTTP_ACCEPT_LANGUAGE="zh-hans")
    index = ops.get("/console/lifecycle/").content.decode()
    ended = index[index.index('data-testid="lifecycle-districts"'):index.index('data-testid="other-districts"')]
    assert "dongsheng" in ended and "kangbashi" not in ended  # dongsheng has an export; kangbashi nothing yet
    page = ops.get("/console/lifecycle/kangbashi/")
    assert page.status_code == 200 and 'name="confirm"' in page.content.decode()
    ops.post("/console/lifecycle/kangbashi/archive/", {"reason": "到期", "retention_days": "30"})
    assert District.objects.get(slug="kangbashi").status == "active"  # not confirmed: nothing changed
    response = ops.post("/console/lifecycle/kangbashi/archive/", {"reason": "到期", "retention_days": "30",
                                                                   "confirm": "1"})
    assert response.status_code == 302
    assert District.objects.get(slug="kangbashi").status == "archived"
    assert DistrictArchive.objects.get(slug="kangbashi").retention_days == 30
    ops.post("/console/lifecycle/kangbashi/export/", {"reason": "移交", "confirm": "1"})
    assert DistrictExport.objects.filter(slug="kangbashi", status="queued").count() == 1
    page = ops.get("/console/lifecycle/kangbashi/").content.decode()
    assert 'http-equiv="refresh"' in page  # the export's progress refreshes itself
    assert ops.get(f"/console/lifecycle/exports/{done_export.pk}/files/dump/").status_code == 200
    assert ops.get("/console/lifecycle/dongsheng/").status_code == 200


def test_the_sweep_lists_districts_due_for_deletion(kangbashi, done_export):
    from tenants.lifecycle.selectors import due_for_deletion
    from tenants.lifecycle.services import archive_district
    from tenants.lifecycle.tasks import sweep
    from tenants.models import District

    dongsheng = District.objects.get(slug="dongsheng")
    archive_district(actor=None, district=dongsheng, reason="到期", retention_days=1)
    assert due_for_deletion() == []  # retention not over
    DistrictArchive.objects.filter(slug="dongsheng").update(
        archived_at=timezone.now() - dt.timedelta(days=3), delete_not_before=timezone.now() - dt.timedelta(days=2))
    DistrictExport.objects.filter(pk=done_export.pk).update(started_at=timezone.now() - dt.timedelta(days=4))
    assert due_for_deletion() == []  # the export predates the archive
    DistrictExport.objects.filter(pk=done_export.pk).update(started_at=timezone.now() - dt.timedelta(days=1))
    assert [d.slug for d in due_for_deletion()] == ["dongsheng"]
    assert sweep()["due"] == ["dongsheng"]
    assert sweep()["due"] == []  # listed once a day
    assert Path(done_export.dump_path).name == "d_dongsheng.dump"


def test_the_schema_documents_the_lifecycle_api():
    doc = APIClient(HTTP_HOST="localhost").get("/api/schema/?format=json").json()
    paths = {p for p in doc["paths"] if p.startswith("/api/v1/lifecycle/")}
    assert {"/api/v1/lifecycle/districts/", "/api/v1/lifecycle/districts/{slug}/archive/",
            "/api/v1/lifecycle/districts/{slug}/exports/", "/api/v1/lifecycle/districts/{slug}/delete/",
            "/api/v1/lifecycle/exports/{id}/restore/", "/api/v1/lifecycle/exports/{id}/files/{kind}/",
            "/api/v1/lifecycle/tombstones/"} <= paths
    for listing in ("/api/v1/lifecycle/districts/", "/api/v1/lifecycle/tombstones/",
                    "/api/v1/lifecycle/districts/{slug}/exports/"):
        ref = doc["paths"][listing]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        assert "results" in doc["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"], listing
    download = doc["paths"]["/api/v1/lifecycle/exports/{id}/files/{kind}/"]["get"]["responses"]["200"]["content"]
    assert download["application/octet-stream"]["schema"]["format"] == "binary"
    export = doc["paths"]["/api/v1/lifecycle/districts/{slug}/exports/"]["post"]
    assert "202" in export["responses"]
    assert "confirm" in doc["components"]["schemas"]["ActionRequest"]["required"]


def test_a_failing_dump_fails_the_export_in_words_and_a_new_one_can_be_asked(dongsheng, settings, tmp_path):
    from kernel.errors import Conflict
    from tenants.lifecycle import exports, services

    settings.DISTRICT_EXPORT_ROOT = tmp_path
    settings.PG_BIN_DIR = str(tmp_path / "no-postgres-here")
    export = services.request_export(actor=None, district=dongsheng, reason="移交")
    failed = exports.produce(export)
    assert failed.status == "failed" and failed.step == "dump" and "pg_dump" in failed.error
    assert "PGPASSWORD" not in failed.error and not failed.dump_path
    assert AuditEntry.objects.filter(action="lifecycle.export.failed", target_id=str(export.pk)).exists()
    with pytest.raises(Conflict, match="not finished|尚未完成"):  # the message is translated (zh-hans default)
        services.restore_export(actor=None, export=failed, slug="ds-copy", reason="x")
    again = services.request_export(actor=None, district=dongsheng, reason="再试")
    assert again.pk != export.pk and again.status == "queued"


def _past_retention(done_export, district) -> None:
    from tenants.lifecycle.services import archive_district

    archive_district(actor=None, district=district, reason="到期", retention_days=1)
    DistrictArchive.objects.filter(slug=district.slug).update(
        archived_at=timezone.now() - dt.timedelta(days=3), delete_not_before=timezone.now() - dt.timedelta(days=2))
    DistrictExport.objects.filter(pk=done_export.pk).update(started_at=timezone.now() - dt.timedelta(days=1))


@pytest.mark.usefixtures("use_localstripe")
def test_a_district_with_billing_is_deleted_and_its_billing_stays_for_finance(dongsheng, done_export, people,
                                                                               settings):
    """billing's before-delete hook (kernel.lifecycle_hooks) cancels the subscription in Stripe (the real
    localstripe) and closes the account; the district goes, and its account, invoices and usage stay with
    district NULL and the slug and name copied, readable by finance, hidden from vendors."""
    import stripe
    from django_tenants.utils import schema_exists

    from billing.models import AccountState, BillingAccount, Invoice, UsageRecord
    from billing.services import open_account
    from tenants.lifecycle.models import DistrictTombstone
    from tenants.lifecycle.services import delete_district
    from tenants.models import District
    from tests.billing.fixtures import TEST_KEY

    account = open_account(actor=None, district=dongsheng, plan="starter")
    subscription = account.stripe_subscription_id
    fake = stripe.StripeClient(TEST_KEY, base_addresses={"api": settings.STRIPE_API_BASE}, max_network_retries=0)
    assert fake.v1.subscriptions.retrieve(subscription).status != "canceled"
    Invoice.objects.create(account=account, stripe_invoice_id="in_lc_kept", number="LC-1", amount_due=800000,
                           status="paid", as_of=timezone.now())
    UsageRecord.objects.create(district=dongsheng, month=dt.date(2026, 1, 1), residents_bound=12)
    _past_retention(done_export, dongsheng)
    assert people["finance"].get("/api/v1/billing/accounts/dongsheng/").json()["district_deleted"] is False
    theirs = _client(_public_user("lc-vendor-theirs", "vendor", District.objects.get(pk=dongsheng.pk).vendor))
    assert theirs.get("/api/v1/billing/accounts/dongsheng/").status_code == 200

    tombstone = delete_district(actor=None, district=dongsheng, reason="保留期满")

    assert tombstone.slug == "dongsheng" and not schema_exists("d_dongsheng")
    assert not District.objects.filter(slug="dongsheng").exists()
    assert fake.v1.subscriptions.retrieve(subscription).status == "canceled"
    kept = BillingAccount.objects.get(pk=account.pk)
    assert kept.district_id is None and kept.district_slug == "dongsheng" and kept.district_name_zh
    assert kept.state == AccountState.CLOSED and kept.subscription_status == "canceled" and kept.closed_at
    assert Invoice.objects.get(stripe_invoice_id="in_lc_kept").account_id == account.pk
    usage = UsageRecord.objects.get(month=dt.date(2026, 1, 1), district_slug="dongsheng")
    assert usage.district_id is None and usage.residents_bound == 12
    closed = AuditEntry.objects.get(action="billing.account.close", target_id=str(account.pk))
    assert closed.after["subscription_status"] == "canceled" and closed.after["reason"] == "保留期满"
    assert AuditEntry.objects.filter(action="lifecycle.delete", target_id=str(dongsheng.pk)).exists()

    finance = people["finance"]
    row = finance.get("/api/v1/billing/accounts/dongsheng/").json()
    assert row["district"] == "dongsheng" and row["district_deleted"] is True and row["state"] == "closed"
    assert row["district_status"] is None
    invoices = finance.get("/api/v1/billing/invoices/").json()["results"]
    assert {"stripe_invoice_id": "in_lc_kept", "district": "dongsheng", "district_deleted": True}.items() <= \
        next(i for i in invoices if i["stripe_invoice_id"] == "in_lc_kept").items()
    assert any(u["district"] == "dongsheng" and u["district_deleted"] for u in
               finance.get("/api/v1/billing/usage/").json()["results"])
    page = finance.get("/billing/accounts/dongsheng/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert page.status_code == 200 and "LC-1" in page.content.decode()
    listing = finance.get("/billing/invoices/").content.decode()
    assert "LC-1" in listing and "dongsheng" in listing
    # a vendor never sees a row without a district, not even the vendor that rolled the district out
    for vendor in (theirs, people["vendor"]):
        assert vendor.get("/api/v1/billing/accounts/dongsheng/").status_code == 404
        assert "in_lc_kept" not in str(vendor.get("/api/v1/billing/invoices/").json())
        assert "dongsheng" not in str(vendor.get("/api/v1/billing/usage/").json())
        assert vendor.get("/billing/accounts/dongsheng/").status_code == 404
    assert DistrictTombstone.objects.filter(slug="dongsheng").count() == 1


@pytest.mark.usefixtures("use_localstripe")
def test_a_deletion_is_refused_when_stripe_cannot_cancel_and_drops_nothing(dongsheng, done_export, settings):
    """The subscription is cancelled first: when Stripe cannot be reached the delete is refused in words,
    the schema is still there and the account untouched (DROP SCHEMA is rolled back with the rest)."""
    from django_tenants.utils import schema_exists

    from billing.models import AccountState, BillingAccount
    from billing.services import open_account
    from kernel.errors import Conflict
    from tenants.lifecycle.models import DistrictTombstone
    from tenants.lifecycle.services import delete_district
    from tenants.models import District
    from tests.billing.fixtures import free_port

    account = open_account(actor=None, district=dongsheng, plan="starter")
    _past_retention(done_export, dongsheng)
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{free_port()}"  # nobody answers there
    with pytest.raises(Conflict, match="not deleted") as refused:
        delete_district(actor=None, district=dongsheng, reason="保留期满")
    assert refused.value.code == "before_delete_refused"
    assert schema_exists("d_dongsheng") and District.objects.filter(slug="dongsheng", status="archived").exists()
    assert not DistrictTombstone.objects.filter(slug="dongsheng").exists()
    assert DistrictArchive.objects.get(slug="dongsheng").deleted_at is None
    kept = BillingAccount.objects.get(pk=account.pk)
    assert kept.district_id == dongsheng.pk and kept.state == AccountState.ACTIVE
    assert not AuditEntry.objects.filter(action="billing.account.close").exists()
