"""The gateway is the one Stripe caller. What localstripe cannot serve (send_invoice collection, billing
meters) is tested at the HTTP boundary with a small recording server; the rest against localstripe."""
import datetime as dt
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
from django.db import connection

from billing import gateway
from billing.models import AccountState, BillingAccount, Plan
from billing.services import billing_active, open_account, provisioning_step
from kernel.lifecycle_hooks import provisioning_steps, setup_checks

pytestmark = pytest.mark.django_db


class Recorder:
    """An HTTP server that records each request and answers like Stripe would (a fixed object)."""

    def __init__(self, answer: dict):
        self.requests: list[dict] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                recorder.requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                                          "form": dict(urllib.parse.parse_qsl(body))})
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder():
    made = []

    def make(answer):
        made.append(Recorder(answer))
        return made[-1]

    yield make
    for r in made:
        r.close()


def test_send_invoice_subscription_request_at_the_http_boundary(kangbashi, settings, recorder):
    stripe_side = recorder({"id": "sub_rec", "object": "subscription", "status": "active", "customer": "cus_rec"})
    settings.STRIPE_API_BASE = stripe_side.url
    settings.STRIPE_SUPPORTS_SEND_INVOICE = True
    plan = Plan.objects.get(key="starter")
    made = gateway.create_subscription(customer_id="cus_rec", plan=plan, district=kangbashi)
    assert made["id"] == "sub_rec"
    (request,) = stripe_side.requests
    assert request["path"] == "/v1/subscriptions"
    form = request["form"]
    assert form["collection_method"] == "send_invoice"
    assert form["days_until_due"] == str(plan.days_until_due) == "30"
    assert form["customer"] == "cus_rec" and form["items[0][plan]"] == "mashang-starter-300000-cny"
    assert form["metadata[district]"] == "kangbashi"
    assert "trial_period_days" not in form
    assert request["headers"]["stripe-version"] == settings.STRIPE_API_VERSION
    assert request["headers"]["idempotency-key"] == f"mashang-subscription-{kangbashi.pk}-mashang-starter-300000-cny"
    assert request["headers"]["authorization"] == f"Bearer {settings.STRIPE_SECRET_KEY}"
    # the same call again (a retried step) carries the same key: Stripe answers with the first subscription
    gateway.create_subscription(customer_id="cus_rec", plan=plan, district=kangbashi)
    assert stripe_side.requests[1]["headers"]["idempotency-key"] == request["headers"]["idempotency-key"]


def test_without_send_invoice_the_fallback_is_what_localstripe_accepts(kangbashi, settings, recorder):
    plan = Plan.objects.get(key="starter")
    params = gateway.subscription_params(customer_id="cus_x", plan=plan, district=kangbashi)
    assert "collection_method" not in params and params["trial_period_days"] == settings.STRIPE_FALLBACK_TRIAL_DAYS
    account = open_account(actor=None, district=kangbashi, plan=plan)  # the real localstripe takes it
    assert account.stripe_subscription_id.startswith("sub_")


def test_metered_usage_request_at_the_http_boundary(settings, recorder):
    stripe_side = recorder({"object": "billing.meter_event", "identifier": "laixi-2026-11", "event_name": "x"})
    settings.STRIPE_API_BASE = stripe_side.url
    settings.STRIPE_SUPPORTS_METER_EVENTS = True
    words = gateway.report_usage(customer_id="cus_m", value=42, identifier="laixi-2026-11",
                                 timestamp=dt.datetime(2026, 11, 30, 23, 59, 59, tzinfo=dt.UTC))
    assert words == "sent: laixi-2026-11"
    (request,) = stripe_side.requests
    assert request["path"] == "/v1/billing/meter_events"
    assert request["form"]["event_name"] == settings.STRIPE_USAGE_METER_EVENT
    assert request["form"]["payload[stripe_customer_id]"] == "cus_m" and request["form"]["payload[value]"] == "42"
    assert request["headers"]["idempotency-key"] == "mashang-usage-laixi-2026-11"
    settings.STRIPE_SUPPORTS_METER_EVENTS = False
    assert gateway.report_usage(customer_id="cus_m", value=1, identifier="y", timestamp=dt.datetime.now(dt.UTC)) \
        .startswith("not sent")
    assert len(stripe_side.requests) == 1


def test_the_provisioning_step_is_idempotent(laixi, fake_stripe):
    step = next(s for s in provisioning_steps() if s.key == "billing")
    assert step.order == 80
    run = SimpleNamespace(district=laixi, application=SimpleNamespace(plan_key="standard"), actor=None)
    first = step.run(run)
    again = provisioning_step(run)
    assert first == again and first["plan"] == "standard"
    # a crash after Stripe made the customer but before we stored it: the retry finds it, makes none
    BillingAccount.objects.filter(district=laixi).update(stripe_customer_id=None, stripe_subscription_id=None)
    third = provisioning_step(run)
    assert third["customer"] == first["customer"] and third["subscription"] == first["subscription"]
    customers = fake_stripe.v1.customers.list(params={"email": gateway.customer_email(laixi)}).data
    assert len(customers) == 1
    assert len(fake_stripe.v1.subscriptions.list(params={"customer": first["customer"]}).data) == 1


def test_an_application_without_a_plan_gets_the_default(dongsheng, settings):
    run = SimpleNamespace(district=dongsheng, application=object(), actor=None)
    assert provisioning_step(run)["plan"] == settings.BILLING_DEFAULT_PLAN


def test_the_set_up_check_says_billing_is_active(dongsheng):
    from django_tenants.utils import tenant_context

    check = next(c for c in setup_checks(dongsheng) if c.key == "billing_active")
    with tenant_context(dongsheng):
        assert check.done(dongsheng) is False
    open_account(actor=None, district=dongsheng, plan="starter")
    with tenant_context(dongsheng):
        assert check.done(dongsheng) is True
    BillingAccount.objects.filter(district=dongsheng).update(state=AccountState.SUSPENDED)
    connection.set_schema_to_public()
    assert billing_active(dongsheng) is False


def test_stripe_down_changes_nothing_and_says_so(kangbashi, settings):
    from billing.gateway import GatewayError
    from tests.billing.conftest import free_port

    settings.STRIPE_API_BASE = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(GatewayError):
        open_account(actor=None, district=kangbashi, plan="starter")
    account = BillingAccount.objects.get(district=kangbashi)
    assert account.stripe_customer_id is None and account.state == AccountState.PENDING


def test_the_command_opens_billing_for_districts_without_it(kangbashi, laixi):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("billing_open", district=["laixi"], plan="starter", stdout=out)
    assert out.getvalue().startswith("laixi: starter cus_")
    again = StringIO()
    call_command("billing_open", district=["laixi"], stdout=again, reconcile=True)
    assert "laixi" not in again.getvalue().split("reconciled")[0]  # already open: left as it is
    assert BillingAccount.objects.filter(district=laixi).count() == 1
