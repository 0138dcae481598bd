"""The daily reconciliation against localstripe, and monthly usage from real counts."""
import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from billing.models import Invoice, ReconcileReport, UsageRecord
from billing.reconcile import reconcile
from billing.usage import record_usage
from tests.billing.conftest import issue_invoice, open_for, pay

pytestmark = pytest.mark.django_db


def test_reconcile_finds_and_fixes_what_webhooks_missed(kangbashi, fake_stripe, people):
    account = open_for(kangbashi)
    missed = issue_invoice(fake_stripe, account)  # no webhook ever came
    pay(fake_stripe, account, missed["id"])
    report = reconcile()
    whats = {(d["what"], d["object"]) for d in report.differences}
    assert ("invoice.missing", missed["id"]) in whats
    assert Invoice.objects.get(stripe_invoice_id=missed["id"]).status == "paid"
    Invoice.objects.filter(stripe_invoice_id=missed["id"]).update(status="open", amount_paid=0)
    again = reconcile()
    assert {"district": "kangbashi", "what": "invoice.status", "object": missed["id"], "local": "open",
            "stripe": "paid"} in again.differences
    assert reconcile().differences == []  # fixed: nothing left
    assert ReconcileReport.objects.count() == 3
    finance = people.client("finance", language="zh-hans")
    page = finance.get(f"/billing/reconcile/?report={again.pk}").content.decode()
    assert missed["id"] in page
    run = finance.post("/api/v1/billing/reconcile/")
    assert run.status_code == 201 and run.json()["differences"] == []
    assert people.client("vendor").get("/api/v1/billing/reconcile/").status_code == 403


def test_reconcile_drives_the_ladder_when_an_invoice_is_overdue(kangbashi, fake_stripe):
    account = open_for(kangbashi)  # starter: send_invoice, 30 days to pay, 15 days of grace
    invoice = issue_invoice(fake_stripe, account, card="4000000000000341")
    reconcile()
    row = Invoice.objects.get(stripe_invoice_id=invoice["id"])
    assert row.status == "open" and row.due_date is not None
    report = reconcile(now=row.due_date + dt.timedelta(days=1))  # a day past due, by Stripe's own dates
    assert any(d["what"] == "district.status" and d["stripe"] == "past_due" for d in report.differences)
    connection.set_schema_to_public()
    kangbashi.refresh_from_db()
    assert kangbashi.status == "past_due"


def test_usage_counts_bound_residents_and_active_users_once_per_month(laixi, kangbashi, settings):
    from modules.registry import services as registry
    from modules.registry.models import Membership
    from tests.conftest import admin_of, make_user
    from tests.registry.test_places import build_places

    open_for(laixi, "standard")  # records usage
    open_for(kangbashi, "starter")  # does not
    places = build_places(laixi)
    bound_user = make_user(laixi, "resident1", "resident")
    with tenant_context(laixi):
        r1 = registry.register_resident(actor=None, name="张三", household=places["h1"])
        registry.register_resident(actor=None, name="李四", household=places["h2"])  # no sign-in: not bound
        r1.user = bound_user
        r1.save(update_fields=["user"])
        assert Membership.objects.filter(ended_at__isnull=True).count() == 2
        admin = admin_of(laixi)
        type(admin).objects.filter(pk=admin.pk).update(last_login=timezone.now())
        type(admin).objects.filter(username="resident1").update(last_login=timezone.now() - dt.timedelta(days=400))
    connection.set_schema_to_public()
    first = record_usage()
    assert [(u.district.slug, u.residents_bound, u.active_users) for u in first] == [("laixi", 1, 1)]
    record_usage()
    assert UsageRecord.objects.filter(district=laixi).count() == 1
    assert not UsageRecord.objects.filter(district=kangbashi).exists()


def test_the_periodic_tasks_run(kangbashi):
    from billing import tasks

    open_for(kangbashi)
    report_id = tasks.reconcile()
    assert ReconcileReport.objects.get(pk=report_id).accounts_checked == 1
    assert tasks.run_ladder() == {"active": 1}
    assert tasks.record_usage() == 0  # starter records no usage
    assert tasks.resume_events() == 0


def test_a_finished_month_of_a_metered_plan_is_reported_once(laixi):
    from billing.usage import month_start

    open_for(laixi, "city-metered")
    this_month = month_start(timezone.localdate())
    last_month = month_start(this_month - dt.timedelta(days=1))
    UsageRecord.objects.create(district=laixi, month=last_month, residents_bound=7, active_users=3)
    record_usage()
    last = UsageRecord.objects.get(district=laixi, month=last_month)
    assert last.reported_at is not None and last.report.startswith("not sent")  # localstripe has no meters
    assert last.residents_bound == 7  # a reported month is never counted again
    current = UsageRecord.objects.get(district=laixi, month=this_month)
    assert current.reported_at is None  # the running month is reported once it is over
    reported_at = last.reported_at
    record_usage()
    assert UsageRecord.objects.get(pk=last.pk).reported_at == reported_at
