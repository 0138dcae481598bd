"""Stripe webhooks: signature, API version, stored once by id, processed as a job by order-safe
handlers; and the whole ladder active → past due → suspended → active against the real localstripe."""
import datetime as dt
import time

import pytest
from django.db import connection
from django.utils import timezone

from billing.models import AccountState, BillingAccount, Invoice, WebhookEvent
from billing.services import run_ladder
from kernel.models import AuditEntry
from tenants.models import District
from tests.billing.conftest import deliver, event_for, issue_invoice, open_for, pay, signed, stripe_event

pytestmark = pytest.mark.django_db
DECLINED = "4000000000000341"


def _status(district) -> str:
    connection.set_schema_to_public()
    return District.objects.get(pk=district.pk).status


def test_bad_signature_and_unpinned_version_are_refused(public_client, kangbashi, django_capture_on_commit_callbacks):
    event = event_for({"id": "in_x", "customer": "cus_x"}, "invoice.paid", created=int(time.time()))
    body, header = signed(event, secret="whsec_someone_else")
    response = public_client.post("/billing/stripe/webhook/", data=body, content_type="application/json",
                                  HTTP_STRIPE_SIGNATURE=header)
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_signature"
    assert public_client.post("/billing/stripe/webhook/", data=body, content_type="application/json").status_code == 400
    old = signed(event, timestamp=int(time.time()) - 3600)  # outside the library's tolerance
    assert public_client.post("/billing/stripe/webhook/", data=old[0], content_type="application/json",
                              HTTP_STRIPE_SIGNATURE=old[1]).status_code == 400
    wrong = event_for({"id": "in_x", "customer": "cus_x"}, "invoice.paid", created=int(time.time()),
                      api_version="2020-08-27")
    response = deliver(public_client, wrong, capture=django_capture_on_commit_callbacks)
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_api_version"
    assert not WebhookEvent.objects.exists()


def test_a_replayed_event_is_stored_and_processed_once(public_client, kangbashi, fake_stripe,
                                                       django_capture_on_commit_callbacks):
    account = open_for(kangbashi)
    invoice = issue_invoice(fake_stripe, account, card=DECLINED)
    event = event_for(invoice, "invoice.payment_failed", created=int(time.time()))
    first = deliver(public_client, event, capture=django_capture_on_commit_callbacks)
    assert first.status_code == 200 and first.json()["duplicate"] is False
    again = deliver(public_client, event, capture=django_capture_on_commit_callbacks)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    row = WebhookEvent.objects.get(stripe_event_id=event["id"])
    assert row.status == "done" and row.attempts == 1 and row.processed_at is not None
    assert Invoice.objects.filter(stripe_invoice_id=invoice["id"]).count() == 1
    assert AuditEntry.objects.filter(action="district.status", target_id=str(kangbashi.pk)).count() == 1


def test_the_whole_ladder_active_past_due_suspended_active(public_client, kangbashi, fake_stripe,
                                                           django_capture_on_commit_callbacks):
    account = open_for(kangbashi, "starter")  # grace period: 15 days
    assert account.state == AccountState.ACTIVE and _status(kangbashi) == "active"
    invoice = issue_invoice(fake_stripe, account, card=DECLINED)
    assert invoice["status"] == "open"
    failed = event_for(invoice, "invoice.payment_failed", created=int(time.time()))
    assert deliver(public_client, failed, capture=django_capture_on_commit_callbacks).status_code == 200
    account.refresh_from_db()
    assert account.state == AccountState.PAST_DUE and _status(kangbashi) == "past_due"

    run_ladder(now=timezone.now() + dt.timedelta(days=14))  # still inside the grace period
    assert _status(kangbashi) == "past_due"
    run_ladder(now=timezone.now() + dt.timedelta(days=16))
    account.refresh_from_db()
    assert account.state == AccountState.SUSPENDED and _status(kangbashi) == "suspended"
    suspended = AuditEntry.objects.filter(action="district.status", target_id=str(kangbashi.pk)).latest("id")
    assert invoice["id"] in suspended.after["reason"] and "15-day grace" in suspended.after["reason"]

    pay(fake_stripe, account, invoice["id"])
    paid = stripe_event(fake_stripe, "invoice.payment_succeeded", invoice["id"])  # localstripe's own event
    assert deliver(public_client, paid, capture=django_capture_on_commit_callbacks).status_code == 200
    account.refresh_from_db()
    assert account.state == AccountState.ACTIVE and _status(kangbashi) == "active"
    mirrored = Invoice.objects.get(stripe_invoice_id=invoice["id"])
    assert mirrored.status == "paid" and mirrored.payment_failed_at is None
    statuses = [e.after["status"] for e in AuditEntry.objects.filter(action="district.status",
                                                                      target_id=str(kangbashi.pk)).order_by("id")]
    assert statuses == ["past_due", "suspended", "active"]


def test_an_old_payment_failed_after_paid_suspends_nobody(public_client, kangbashi, fake_stripe,
                                                          django_capture_on_commit_callbacks):
    account = open_for(kangbashi)
    invoice = issue_invoice(fake_stripe, account, card=DECLINED)
    failed_at = int(time.time()) - 60
    pay(fake_stripe, account, invoice["id"])
    paid = stripe_event(fake_stripe, "invoice.payment_succeeded", invoice["id"])
    assert deliver(public_client, paid, capture=django_capture_on_commit_callbacks).status_code == 200
    late = event_for(invoice, "invoice.payment_failed", created=failed_at)  # older, delivered last
    assert deliver(public_client, late, capture=django_capture_on_commit_callbacks).status_code == 200
    account.refresh_from_db()
    assert account.state == AccountState.ACTIVE and _status(kangbashi) == "active"
    assert Invoice.objects.get(stripe_invoice_id=invoice["id"]).status == "paid"
    run_ladder(now=timezone.now() + dt.timedelta(days=60))
    assert _status(kangbashi) == "active"


def test_order_safe_even_when_stripe_cannot_be_asked_again(public_client, kangbashi, fake_stripe, settings,
                                                           django_capture_on_commit_callbacks):
    """With Stripe unreachable the handler falls back to the event's copy, applied only when newer."""
    from tests.billing.conftest import free_port

    account = open_for(kangbashi)
    invoice = issue_invoice(fake_stripe, account, card=DECLINED)
    old_copy = dict(invoice)
    now = int(time.time())
    paid = pay(fake_stripe, account, invoice["id"])
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{free_port()}"  # nobody listens
    deliver(public_client, event_for(paid, "invoice.paid", created=now), capture=django_capture_on_commit_callbacks)
    deliver(public_client, event_for(old_copy, "invoice.payment_failed", created=now - 30),
            capture=django_capture_on_commit_callbacks)
    account.refresh_from_db()
    assert Invoice.objects.get(stripe_invoice_id=invoice["id"]).status == "paid"
    assert account.state == AccountState.ACTIVE and _status(kangbashi) == "active"
    assert WebhookEvent.objects.filter(status="done").count() == 2


def test_ops_override_keeps_a_district_active_until_the_day(kangbashi, fake_stripe, people, public_client,
                                                            django_capture_on_commit_callbacks):
    account = open_for(kangbashi)
    invoice = issue_invoice(fake_stripe, account, card=DECLINED)
    deliver(public_client, event_for(invoice, "invoice.payment_failed", created=int(time.time())),
            capture=django_capture_on_commit_callbacks)
    run_ladder(now=timezone.now() + dt.timedelta(days=16))
    assert _status(kangbashi) == "suspended"
    until = (timezone.localdate() + dt.timedelta(days=20)).isoformat()
    vendor = people.client("vendor")
    assert vendor.post(f"/api/v1/billing/accounts/{kangbashi.slug}/override/",
                       {"keep_active_until": until, "reason": "x", "confirm": True}, format="json").status_code == 403
    ops = people.client("ops")
    unconfirmed = ops.post(f"/api/v1/billing/accounts/{kangbashi.slug}/override/",
                           {"keep_active_until": until, "reason": "财政拨款在途", "confirm": False}, format="json")
    assert unconfirmed.status_code == 400 and _status(kangbashi) == "suspended"
    no_reason = ops.post(f"/api/v1/billing/accounts/{kangbashi.slug}/override/",
                         {"keep_active_until": until, "reason": " ", "confirm": True}, format="json")
    assert no_reason.status_code == 400
    done = ops.post(f"/api/v1/billing/accounts/{kangbashi.slug}/override/",
                    {"keep_active_until": until, "reason": "财政拨款在途", "confirm": True}, format="json")
    assert done.status_code == 200, done.content
    assert _status(kangbashi) == "active"
    assert AuditEntry.objects.filter(action="billing.override", after__reason="财政拨款在途").exists()
    run_ladder(now=timezone.now() + dt.timedelta(days=18))  # inside the override
    assert _status(kangbashi) == "active"
    run_ladder(now=timezone.now() + dt.timedelta(days=22))  # the day after it: the ladder takes over
    assert _status(kangbashi) == "suspended"


def test_a_district_suspended_by_hand_is_not_resumed_by_a_payment(kangbashi, fake_stripe, public_client,
                                                                  django_capture_on_commit_callbacks):
    from tenants.services import set_status

    account = open_for(kangbashi)
    set_status(actor=None, district=kangbashi, status="suspended", reason="合同纠纷，平台暂停")
    invoice = issue_invoice(fake_stripe, account)
    pay(fake_stripe, account, invoice["id"])
    deliver(public_client, stripe_event(fake_stripe, "invoice.payment_succeeded", invoice["id"]),
            capture=django_capture_on_commit_callbacks)
    assert _status(kangbashi) == "suspended"
    assert BillingAccount.objects.get(pk=account.pk).state == AccountState.ACTIVE


def test_paying_the_old_invoice_while_a_newer_one_failed_lands_on_past_due(public_client, kangbashi, fake_stripe,
                                                                          django_capture_on_commit_callbacks):
    account = open_for(kangbashi)
    old = issue_invoice(fake_stripe, account, card=DECLINED)
    deliver(public_client, event_for(old, "invoice.payment_failed", created=int(time.time()) - 20 * 86400),
            capture=django_capture_on_commit_callbacks)  # it failed 20 days ago: past the 15 days of grace
    assert _status(kangbashi) == "suspended"
    new = issue_invoice(fake_stripe, account, card=DECLINED)
    deliver(public_client, event_for(new, "invoice.payment_failed", created=int(time.time())),
            capture=django_capture_on_commit_callbacks)
    assert _status(kangbashi) == "suspended"  # the old one is still unpaid
    pay(fake_stripe, account, old["id"])
    deliver(public_client, stripe_event(fake_stripe, "invoice.payment_succeeded", old["id"]),
            capture=django_capture_on_commit_callbacks)
    account.refresh_from_db()
    assert account.state == AccountState.PAST_DUE and _status(kangbashi) == "past_due"
    statuses = [e.after["status"] for e in AuditEntry.objects.filter(action="district.status",
                                                                      target_id=str(kangbashi.pk)).order_by("id")]
    assert statuses == ["suspended", "active", "past_due"]
    last = AuditEntry.objects.filter(action="district.status", target_id=str(kangbashi.pk)).latest("id")
    assert new["id"] in last.after["reason"]


def test_a_failing_event_is_kept_failed_shown_and_can_be_run_again(public_client, kangbashi, people,
                                                                   django_capture_on_commit_callbacks):
    account = open_for(kangbashi)
    broken = event_for({"id": "in_broken", "customer": account.stripe_customer_id}, "invoice.paid",
                       created=int(time.time()))
    del broken["data"]["object"]["id"]
    broken["id"] = "evt_broken"
    assert deliver(public_client, broken, capture=django_capture_on_commit_callbacks).status_code == 200
    row = WebhookEvent.objects.get(stripe_event_id="evt_broken")
    assert row.status == "failed" and row.attempts == 1 and "KeyError" in row.error
    assert AuditEntry.objects.filter(action="billing.event.failed", target_id=str(row.pk)).exists()
    assert "evt_broken" in people.client("finance", language="zh-hans").get("/billing/events/").content.decode()
    assert people.client("finance").post("/billing/events/retry/", {"event": row.pk}).status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        assert people.client("ops").post("/billing/events/retry/", {"event": row.pk}).status_code == 302
    row.refresh_from_db()
    assert row.attempts == 2 and row.status == "failed"
    assert _status(kangbashi) == "active"


def test_the_webhook_is_throttled_per_sender(public_client, kangbashi, settings):
    settings.STRIPE_WEBHOOK_RATE = "2/min"
    event = event_for({"id": "in_x", "customer": "cus_x"}, "invoice.paid", created=int(time.time()))
    body, header = signed(event, secret="whsec_someone_else")
    answers = [public_client.post("/billing/stripe/webhook/", data=body, content_type="application/json",
                                  HTTP_STRIPE_SIGNATURE=header).status_code for _ in range(3)]
    assert answers == [400, 400, 429]
