"""A district's billing closed before the lifecycle deletes it (billing.services.close_account, the
before-delete hook): the subscription is cancelled in Stripe (the real localstripe), the account kept,
closed, with the slug and name copied. Webhooks about it are stored and ignored, never crashing; the
ladder, reconcile and usage leave it alone. Whole deletions are tested in tests/lifecycle."""
from __future__ import annotations

import datetime as dt
import time

import pytest
from django.utils import timezone

from billing.models import AccountState, BillingAccount, Invoice, UsageRecord, WebhookEvent
from billing.reconcile import reconcile
from billing.services import close_account, run_ladder
from billing.usage import record_usage
from kernel.errors import DomainError
from kernel.lifecycle_hooks import before_delete_hooks
from kernel.models import AuditEntry
from tenants.models import District
from tests.billing.conftest import deliver, event_for, issue_invoice, open_for, stripe_event

pytestmark = pytest.mark.django_db
DECLINED = "4000000000000341"


def test_billing_registers_its_before_delete_hook():
    from billing.services import before_district_delete

    assert before_district_delete in before_delete_hooks()


def test_closing_cancels_the_subscription_once_and_keeps_the_account(kangbashi, dongsheng, fake_stripe):
    account = open_for(kangbashi, "standard")
    with pytest.raises(DomainError):
        close_account(actor=None, district=kangbashi, reason="  ")  # a reason is required
    closed = close_account(actor=None, district=kangbashi, reason="保留期满")
    assert closed.pk == account.pk and closed.state == AccountState.CLOSED and closed.closed_at
    assert closed.subscription_status == "canceled" and closed.closed_reason == "保留期满"
    assert closed.district_slug == "kangbashi" and closed.district_name_zh == kangbashi.name_zh
    assert fake_stripe.v1.subscriptions.retrieve(account.stripe_subscription_id).status == "canceled"
    again = close_account(actor=None, district=kangbashi, reason="再次")  # idempotent: nothing new
    assert again.closed_reason == "保留期满"
    assert AuditEntry.objects.filter(action="billing.account.close", target_id=str(account.pk)).count() == 1
    assert close_account(actor=None, district=District.objects.get(slug="dongsheng"), reason="x") is None


@pytest.mark.parametrize("district_gone", [False, True], ids=["closed", "district-deleted"])
def test_a_webhook_for_a_closed_account_is_stored_ignored_and_changes_nothing(
        district_gone, public_client, kangbashi, fake_stripe, django_capture_on_commit_callbacks):
    account = open_for(kangbashi)
    invoice = issue_invoice(fake_stripe, account, card=DECLINED)
    close_account(actor=None, district=kangbashi, reason="保留期满")
    if district_gone:  # what the lifecycle's delete leaves (on_delete=SET_NULL)
        BillingAccount.objects.filter(pk=account.pk).update(district=None)
    failed = event_for(invoice, "invoice.payment_failed", created=int(time.time()))
    cancelled = stripe_event(fake_stripe, "customer.subscription.deleted", account.stripe_subscription_id)
    for event in (failed, cancelled):
        response = deliver(public_client, event, capture=django_capture_on_commit_callbacks)
        assert response.status_code == 200 and response.json()["duplicate"] is False
        row = WebhookEvent.objects.get(stripe_event_id=event["id"])
        assert row.status == "done" and row.outcome.startswith("ignored:") and "closed" in row.outcome
        assert row.error == ""
    assert not Invoice.objects.filter(stripe_invoice_id=invoice["id"]).exists()
    kept = BillingAccount.objects.get(pk=account.pk)
    assert kept.state == AccountState.CLOSED and kept.past_due_since is None
    assert District.objects.get(pk=kangbashi.pk).status == "active"  # the ladder did not move it
    assert not AuditEntry.objects.filter(action="district.status", target_id=str(kangbashi.pk)).exists()


def test_ladder_reconcile_and_usage_leave_a_closed_account_alone(kangbashi, laixi, fake_stripe):
    closed = open_for(kangbashi, "standard")
    issue_invoice(fake_stripe, closed, card=DECLINED)  # unpaid in Stripe: would suspend an open account
    live = open_for(laixi, "standard")
    close_account(actor=None, district=kangbashi, reason="保留期满")
    BillingAccount.objects.filter(pk=closed.pk).update(district=None)
    report = reconcile(now=timezone.now() + dt.timedelta(days=60))
    assert report.accounts_checked == 1 and report.errors == []
    assert not any(d["district"] == "kangbashi" for d in report.differences)
    assert not Invoice.objects.filter(account=closed).exists()
    counts = run_ladder(now=timezone.now() + dt.timedelta(days=60))
    assert sum(counts.values()) == 1
    assert BillingAccount.objects.get(pk=closed.pk).state == AccountState.CLOSED
    rows = record_usage()
    assert [r.district_id for r in rows] == [laixi.pk] and rows[0].district_slug == "laixi"
    assert not UsageRecord.objects.filter(district_slug="kangbashi").exists()
    assert live.state == AccountState.ACTIVE


def test_the_migration_copies_the_district_onto_rows_made_before(kangbashi):
    """billing 0003's RunPython fills ``district_slug`` / ``district_name_zh`` of the rows already there."""
    import importlib

    from django.apps import apps

    from billing.models import Plan

    migration = importlib.import_module("billing.migrations.0003_district_may_be_deleted")
    account = BillingAccount.objects.create(district=kangbashi, plan=Plan.objects.get(key="starter"))
    usage = UsageRecord.objects.create(district=kangbashi, month=dt.date(2026, 1, 1))
    assert account.district_slug == usage.district_slug == "kangbashi"  # copied when made
    BillingAccount.objects.filter(pk=account.pk).update(district_slug="", district_name_zh="")
    UsageRecord.objects.filter(pk=usage.pk).update(district_slug="", district_name_zh="")
    migration.copy_district_names(apps, None)
    for row in (BillingAccount.objects.get(pk=account.pk), UsageRecord.objects.get(pk=usage.pk)):
        assert row.district_slug == "kangbashi" and row.district_name_zh == kangbashi.name_zh
