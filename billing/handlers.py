"""Handlers of Stripe events (run by the event job, ``services.process_event``). Each is idempotent and
order-safe: it takes the account's row lock, re-reads the object from Stripe through the gateway (the
truth now, whatever order events came in), and falls back to the event's own copy only when that is
newer than what the mirror knows (``as_of`` = the event's ``created``). So an old
``invoice.payment_failed`` arriving after the invoice was paid finds it paid and suspends nobody."""
from __future__ import annotations

import logging

from django.db import transaction

from billing import gateway
from billing.models import BillingAccount, WebhookEvent
from billing.services import apply_ladder, mirror_invoice

log = logging.getLogger(__name__)

INVOICE_EVENTS = {"invoice.created", "invoice.finalized", "invoice.updated", "invoice.paid",
                  "invoice.payment_succeeded", "invoice.payment_failed", "invoice.voided",
                  "invoice.marked_uncollectible", "invoice.overdue", "invoice.payment_action_required"}
SUBSCRIPTION_EVENTS = {"customer.subscription.created", "customer.subscription.updated",
                       "customer.subscription.deleted", "customer.subscription.paused",
                       "customer.subscription.resumed"}


def handle(event: WebhookEvent) -> str:
    obj = (event.payload.get("data") or {}).get("object") or {}
    if event.type in INVOICE_EVENTS:
        return on_invoice(event, obj)
    if event.type in SUBSCRIPTION_EVENTS:
        return on_subscription(event, obj)
    return "ignored: not a billing event"


def _account(customer_id: str | None):
    if not customer_id:
        return None
    return (BillingAccount.objects.select_for_update().select_related("plan", "district")
            .filter(stripe_customer_id=customer_id).first())


def on_invoice(event: WebhookEvent, obj: dict) -> str:
    customer = obj.get("customer")
    if isinstance(customer, dict):
        customer = customer.get("id")
    with transaction.atomic():
        account = _account(customer)
        if account is None:
            return f"ignored: no district has customer {customer}"
        try:
            data, authoritative = gateway.retrieve_invoice(obj["id"]), True
        except gateway.GatewayError:
            log.warning("invoice re-read failed; using the event's copy", extra={"invoice": obj.get("id")})
            data, authoritative = obj, False
        failed_at = event.created if event.type == "invoice.payment_failed" else None
        invoice, changed = mirror_invoice(account, data, as_of=event.created, failed_at=failed_at,
                                          authoritative=authoritative)
        apply_ladder(account)
    return f"invoice {invoice.stripe_invoice_id} {invoice.status}; changed {','.join(changed) or 'nothing'}"


def on_subscription(event: WebhookEvent, obj: dict) -> str:
    with transaction.atomic():
        account = _account(obj.get("customer"))
        if account is None or obj.get("id") != account.stripe_subscription_id:
            return "ignored: not a district's current subscription"
        try:
            data = gateway.retrieve_subscription(obj["id"])
            as_of = max(event.created, account.subscription_as_of or event.created)
        except gateway.GatewayError:
            if account.subscription_as_of and event.created < account.subscription_as_of:
                return "ignored: older than what we know"
            data, as_of = obj, event.created
        status = data.get("status") or ""
        if status != account.subscription_status or as_of != account.subscription_as_of:
            account.subscription_status, account.subscription_as_of = status, as_of
            account.save(update_fields=["subscription_status", "subscription_as_of", "updated_at"])
    return f"subscription {obj.get('id')} {status}"
