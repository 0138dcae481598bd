"""Billing tests run against the REAL localstripe server (PyPI), started once per session on 127.0.0.1
and emptied before each test; the gateway is pointed at it by settings. Webhooks are signed with the
library's own ``stripe.WebhookSignature.generate_signature_header``."""
from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
import stripe
from django.db import connection
from rest_framework.test import APIClient

from tests.billing.fixtures import (  # noqa: F401 - fixtures
    LOCALSTRIPE_VERSION,
    TEST_KEY,
    WEBHOOK_SECRET,
    free_port,
    localstripe_url,
    use_localstripe,
)
from tests.conftest import PASSWORD


@pytest.fixture(autouse=True)
def stripe_settings(use_localstripe):  # noqa: F811 - the imported fixture
    """Every billing test talks to the session's localstripe, emptied first."""


@pytest.fixture
def fake_stripe(localstripe_url):  # noqa: F811 - the imported fixture
    """A client acting as Stripe's dashboard / the customer (cards, paying): test-side, not the app."""
    return stripe.StripeClient(TEST_KEY, base_addresses={"api": localstripe_url}, max_network_retries=0)


def signed(payload: dict | str, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> tuple[str, str]:
    body = payload if isinstance(payload, str) else json.dumps(payload)
    header = stripe.WebhookSignature.generate_signature_header(body, secret, timestamp=timestamp)
    return body, header


def event_for(obj: dict, type_: str, *, created: int, event_id: str | None = None,
              api_version: str = LOCALSTRIPE_VERSION) -> dict:
    return {"id": event_id or f"evt_{type_.replace('.', '_')}_{obj['id']}_{created}", "object": "event",
            "type": type_, "created": created, "api_version": api_version, "livemode": False,
            "data": {"object": obj}}


def deliver(client, event: dict, *, capture, secret: str = WEBHOOK_SECRET):
    body, header = signed(event, secret=secret)
    with capture(execute=True):
        return client.post("/billing/stripe/webhook/", data=body, content_type="application/json",
                           HTTP_STRIPE_SIGNATURE=header)


@pytest.fixture
def public_client():
    return APIClient(HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="en")


@dataclass
class People:
    ops: object
    finance: object
    vendor: object
    vendor2: object
    ordos: object
    qingdao: object

    def client(self, who: str, language: str = "en") -> APIClient:
        client = APIClient(HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE=language)
        client.force_login(getattr(self, who), backend="django.contrib.auth.backends.ModelBackend")
        return client


@pytest.fixture
def people(db, kangbashi, dongsheng, laixi):
    """The demo's platform people: ops, finance, vendor (ordos: kangbashi, dongsheng), vendor2 (qingdao: laixi)."""
    from django.db import transaction

    from accounts.services import create_user
    from tenants.models import District
    from tenants.services import create_vendor, grant_platform_role

    connection.set_schema_to_public()
    ordos = create_vendor(actor=None, slug="ordos-test", name_zh="鄂尔多斯码上")
    qingdao = create_vendor(actor=None, slug="qingdao-test", name_zh="青岛智城")
    District.objects.filter(slug__in=["kangbashi", "dongsheng"]).update(vendor=ordos)
    District.objects.filter(slug="laixi").update(vendor=qingdao)
    users = {}
    for name in ("ops", "finance", "vendor", "vendor2"):
        with transaction.atomic():
            users[name] = create_user(actor=None, username=f"b_{name}", password=PASSWORD)
    grant_platform_role(actor=None, user=users["ops"], role="ops")
    grant_platform_role(actor=None, user=users["finance"], role="finance")
    grant_platform_role(actor=None, user=users["vendor"], role="vendor", vendor=ordos)
    grant_platform_role(actor=None, user=users["vendor2"], role="vendor", vendor=qingdao)
    return People(ordos=ordos, qingdao=qingdao, **users)


def open_for(district, plan: str = "starter"):
    from billing.services import open_account

    connection.set_schema_to_public()
    return open_account(actor=None, district=district, plan=plan)


def issue_invoice(fake_stripe, account, *, card: str | None = None) -> dict:
    """An invoice of the account's subscription, tried on ``card`` (declined: 4000000000000341) when given."""
    if card:
        pm = fake_stripe.v1.payment_methods.create(
            params={"type": "card", "card": {"number": card, "exp_month": 12, "exp_year": 2030, "cvc": "123"}})
        fake_stripe.v1.payment_methods.attach(pm.id, params={"customer": account.stripe_customer_id})
        fake_stripe.v1.customers.update(account.stripe_customer_id,
                                        params={"invoice_settings": {"default_payment_method": pm.id}})
    invoice = fake_stripe.v1.invoices.create(params={"customer": account.stripe_customer_id,
                                                     "subscription": account.stripe_subscription_id})
    if card:
        invoice = fake_stripe.v1.invoices.pay(invoice.id)
    return invoice.to_dict()


def pay(fake_stripe, account, invoice_id: str, card: str = "4242424242424242") -> dict:
    pm = fake_stripe.v1.payment_methods.create(
        params={"type": "card", "card": {"number": card, "exp_month": 12, "exp_year": 2030, "cvc": "123"}})
    fake_stripe.v1.payment_methods.attach(pm.id, params={"customer": account.stripe_customer_id})
    fake_stripe.v1.customers.update(account.stripe_customer_id,
                                    params={"invoice_settings": {"default_payment_method": pm.id}})
    return fake_stripe.v1.invoices.pay(invoice_id).to_dict()


def stripe_event(fake_stripe, type_: str, object_id: str) -> dict:
    """The newest event of ``type_`` about ``object_id`` as localstripe recorded it."""
    for event in fake_stripe.v1.events.list(params={"type": type_, "limit": 100}).data:
        data = event.to_dict()
        if data["data"]["object"].get("id") == object_id:
            return data
    raise AssertionError(f"no {type_} event for {object_id}")
