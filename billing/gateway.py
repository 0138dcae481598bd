"""The ONE place that calls Stripe. Everything else asks this module.

The client is ``stripe.StripeClient`` with the key, the API base (the real Stripe, or the localstripe
server in tests and the demo) and the pinned API version (``STRIPE_API_VERSION``) from settings.
Every call that creates something carries an Idempotency-Key derived from what it is for (the district,
the plan), so a retried provisioning step never makes a second customer or subscription.

What the Stripe fake (localstripe) cannot serve stays behind this boundary, switched by settings:
- ``STRIPE_SUPPORTS_SEND_INVOICE`` (real Stripe: True): a subscription collected by invoice is created
  with ``collection_method=send_invoice`` and ``days_until_due``. localstripe refuses both fields, so with
  False the subscription starts with a trial of ``STRIPE_FALLBACK_TRIAL_DAYS`` (no charge at once, the
  first invoice comes at the period's end) and the due date is kept by our own mirror.
- ``STRIPE_SUPPORTS_METER_EVENTS`` (real Stripe: True): metered usage goes to ``/v1/billing/meter_events``
  (event ``STRIPE_USAGE_METER_EVENT``); without it usage is counted and kept here, reported as "not sent".
- Prices and Checkout are not used at all: plans are legacy Plans with a Product, which both serve.
"""
from __future__ import annotations

import datetime as dt
import logging
from functools import lru_cache

import stripe
from django.conf import settings
from django.utils.translation import gettext as _

from kernel.errors import DomainError

log = logging.getLogger(__name__)


class GatewayError(DomainError):
    """Stripe did not answer as hoped (down, refused the request). Nothing local was changed."""

    status = 502
    code = "stripe_unavailable"


@lru_cache(maxsize=8)
def _client(api_key: str, api_base: str, version: str, retries: int) -> stripe.StripeClient:
    kwargs = {"stripe_version": version, "max_network_retries": retries}
    if api_base:
        kwargs["base_addresses"] = {"api": api_base}
    return stripe.StripeClient(api_key, **kwargs)


def client() -> stripe.StripeClient:
    return _client(settings.STRIPE_SECRET_KEY, settings.STRIPE_API_BASE, settings.STRIPE_API_VERSION,
                   settings.STRIPE_MAX_NETWORK_RETRIES)


def _call(what: str, fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except stripe.StripeError as exc:
        log.warning("stripe call failed", extra={"call": what, "stripe_error": type(exc).__name__})
        raise GatewayError(_("The payment service did not accept the request (%(what)s): try again later.")
                           % {"what": what}) from exc


def as_dict(obj) -> dict:
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


def ts(value) -> dt.datetime | None:
    """A Stripe timestamp (seconds) as an aware datetime."""
    return dt.datetime.fromtimestamp(int(value), tz=dt.UTC) if value else None


# --- plans (legacy Plan + Product: localstripe has no prices) -----------------------------------------

def stripe_plan_id(plan) -> str:
    """A Stripe plan's amount never changes, so a new amount is a new Stripe plan."""
    return f"mashang-{plan.key}-{plan.amount_fen}-{plan.currency}"


def ensure_plan(plan) -> tuple[str, str]:
    """The Stripe plan (and its product) of ``plan``, made if missing. Returns (product id, plan id)."""
    c = client()
    plan_id = stripe_plan_id(plan)
    try:
        found = as_dict(c.v1.plans.retrieve(plan_id))
        return found.get("product") or plan.stripe_product_id, plan_id
    except stripe.InvalidRequestError:
        pass
    except stripe.StripeError as exc:
        raise GatewayError(_("The payment service is not reachable: try again later.")) from exc
    params = {"id": plan_id, "amount": plan.amount_fen, "currency": plan.currency, "interval": "month",
              "nickname": plan.name_en or plan.key, "metadata": {"plan_key": plan.key}}
    new_product = {"name": f"{plan.name_zh} {plan.name_en}".strip(), "metadata": {"plan_key": plan.key}}
    if plan.stripe_product_id:
        try:  # the product this plan had; Stripe may have lost it (test-mode data reset): then a new one
            made = c.v1.plans.create(params={**params, "product": plan.stripe_product_id},
                                     options={"idempotency_key": f"mashang-plan-{plan_id}-{plan.stripe_product_id}"})
            return as_dict(made)["product"], plan_id
        except stripe.InvalidRequestError:
            pass
        except stripe.StripeError as exc:
            raise GatewayError(_("The payment service is not reachable: try again later.")) from exc
    made = as_dict(_call("plans.create", c.v1.plans.create, params={**params, "product": new_product},
                         options={"idempotency_key": f"mashang-plan-{plan_id}"}))
    return made["product"], made["id"]


# --- customers and subscriptions ---------------------------------------------------------------------

def customer_email(district) -> str:
    """A stable address naming the district: the customer's lookup key when an idempotent create could
    not be relied on (localstripe ignores Idempotency-Key)."""
    return f"billing+{district.slug}@mashang.invalid"


def find_or_create_customer(district) -> str:
    c = client()
    email = customer_email(district)
    found = _call("customers.list", c.v1.customers.list, params={"email": email, "limit": 1})
    for row in found.data:
        return row.id
    made = _call("customers.create", c.v1.customers.create,
                 params={"name": district.name_zh, "email": email, "description": district.name_en or district.slug,
                         "metadata": {"district": district.slug, "district_id": str(district.pk)}},
                 options={"idempotency_key": f"mashang-customer-{district.pk}-{district.slug}"})
    return made.id


def subscription_params(*, customer_id: str, plan, district) -> dict:
    params = {"customer": customer_id, "items": [{"plan": stripe_plan_id(plan)}],
              "metadata": {"district": district.slug, "plan_key": plan.key}}
    if plan.collection_method == "send_invoice" and settings.STRIPE_SUPPORTS_SEND_INVOICE:
        params["collection_method"] = "send_invoice"
        params["days_until_due"] = plan.days_until_due
    elif settings.STRIPE_SUPPORTS_SEND_INVOICE:
        params["payment_behavior"] = "default_incomplete"
    else:  # localstripe: no send_invoice, and a charge at once would need a card on file
        params["trial_period_days"] = settings.STRIPE_FALLBACK_TRIAL_DAYS
    return params


def create_subscription(*, customer_id: str, plan, district) -> dict:
    c = client()
    return as_dict(_call("subscriptions.create", c.v1.subscriptions.create,
                         params=subscription_params(customer_id=customer_id, plan=plan, district=district),
                         options={"idempotency_key": f"mashang-subscription-{district.pk}-{stripe_plan_id(plan)}"}))


def find_subscription(customer_id: str) -> dict | None:
    c = client()
    found = _call("subscriptions.list", c.v1.subscriptions.list, params={"customer": customer_id, "limit": 10})
    for row in found.data:
        data = as_dict(row)
        if data.get("status") not in ("canceled", "incomplete_expired"):
            return data
    return None


def cancel_subscription(subscription_id: str) -> dict:
    """Cancel a subscription now (no proration, no final invoice). Idempotent: one already ended is
    returned as it is (Stripe refuses to cancel it twice)."""
    current = retrieve_subscription(subscription_id)
    if current.get("status") in ("canceled", "incomplete_expired"):
        return current
    return as_dict(_call("subscriptions.cancel", client().v1.subscriptions.cancel, subscription_id,
                         options={"idempotency_key": f"mashang-cancel-{subscription_id}"}))


def retrieve_subscription(subscription_id: str) -> dict:
    return as_dict(_call("subscriptions.retrieve", client().v1.subscriptions.retrieve, subscription_id))


def retrieve_invoice(invoice_id: str) -> dict:
    return as_dict(_call("invoices.retrieve", client().v1.invoices.retrieve, invoice_id))


def list_invoices(customer_id: str, limit: int = 100) -> list[dict]:
    found = _call("invoices.list", client().v1.invoices.list, params={"customer": customer_id, "limit": limit})
    return [as_dict(row) for row in found.data]


# --- usage (billing meters) ----------------------------------------------------------------------------

def report_usage(*, customer_id: str, value: int, identifier: str, timestamp: dt.datetime) -> str:
    """Send one month's metered usage. Returns what happened, in words kept on the usage record."""
    if not settings.STRIPE_SUPPORTS_METER_EVENTS:
        return "not sent: this payment service has no billing meters"
    made = _call("billing.meter_events.create", client().v1.billing.meter_events.create,
                 params={"event_name": settings.STRIPE_USAGE_METER_EVENT, "identifier": identifier,
                         "timestamp": int(timestamp.timestamp()),
                         "payload": {"stripe_customer_id": customer_id, "value": str(value)}},
                 options={"idempotency_key": f"mashang-usage-{identifier}"})
    return f"sent: {as_dict(made).get('identifier', identifier)}"


# --- webhooks -----------------------------------------------------------------------------------------

def verify_event(payload: bytes, signature: str | None):
    """The event of a webhook request, verified by the library (signature and timestamp tolerance).
    Raises ``stripe.SignatureVerificationError`` or ``ValueError`` (not JSON)."""
    return stripe.Webhook.construct_event(payload, signature, settings.STRIPE_WEBHOOK_SECRET,
                                          tolerance=settings.STRIPE_WEBHOOK_TOLERANCE)
