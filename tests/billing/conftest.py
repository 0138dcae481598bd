"""Billing tests run against the REAL localstripe server (PyPI), started once per session on 127.0.0.1
and emptied before each test; the gateway is pointed at it by settings. Webhooks are signed with the
library's own ``stripe.WebhookSignature.generate_signature_header``."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass

import pytest
import stripe
from django.db import connection
from rest_framework.test import APIClient

from tests.conftest import PASSWORD

WEBHOOK_SECRET = "whsec_test_mashang"
LOCALSTRIPE_VERSION = "2017-08-15"  # what localstripe writes on every event
TEST_KEY = "sk_test_mashang"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(url: str) -> bool:
    request = urllib.request.Request(f"{url}/v1/customers?limit=1", headers={"Authorization": f"Bearer {TEST_KEY}"})
    try:
        with urllib.request.urlopen(request, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture(scope="session")
def localstripe_url(tmp_path_factory):
    """``python -m localstripe`` on a free port, until the session ends."""
    where = tmp_path_factory.mktemp("localstripe")
    port = free_port()
    log = open(where / "localstripe.log", "w")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "localstripe", "--port", str(port), "--from-scratch"],
                            cwd=where, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while not _answers(url):
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            raise RuntimeError("localstripe did not start:\n" + (where / "localstripe.log").read_text())
        time.sleep(0.1)
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(autouse=True)
def stripe_settings(settings, localstripe_url, monkeypatch):
    """The gateway talks to localstripe (no send_invoice, no meters there); its events' API version is
    accepted here only. Celery tasks kicked by name run in place. Stripe starts empty."""
    from config.celery import app

    settings.STRIPE_API_BASE = localstripe_url
    settings.STRIPE_SECRET_KEY = TEST_KEY
    settings.STRIPE_SUPPORTS_SEND_INVOICE = False
    settings.STRIPE_SUPPORTS_METER_EVENTS = False
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_ACCEPTED_API_VERSIONS = [settings.STRIPE_API_VERSION, LOCALSTRIPE_VERSION]
    monkeypatch.setitem(app.conf, "task_always_eager", True)
    urllib.request.urlopen(urllib.request.Request(f"{localstripe_url}/_config/data", method="DELETE"), timeout=5)
    yield


@pytest.fixture
def fake_stripe(localstripe_url):
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
