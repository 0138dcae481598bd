"""A webhook delivered by localstripe itself (it posts about a second after the event) to the real WSGI
app: the signature localstripe computed is verified by the library and the event is stored once and
processed. Runs on committed data (the live server is another thread), cleaned up afterwards."""
from tests.billing.conftest import WEBHOOK_SECRET
from tests.conftest import wait_for


def test_localstripe_delivers_a_signed_event_to_the_live_server(live_server_url, fake_stripe, localstripe_url,
                                                                django_db_blocker):
    import json
    import urllib.request

    from billing.models import WebhookEvent

    url = live_server_url.format(host="localhost") + "/billing/stripe/webhook/"

    def register(events):
        body = json.dumps({"url": url, "secret": WEBHOOK_SECRET, "events": events}).encode()
        urllib.request.urlopen(urllib.request.Request(f"{localstripe_url}/_config/webhooks/mashang", data=body,
                                                      headers={"Content-Type": "application/json"}), timeout=5)

    register(["customer.created"])
    event = None
    try:
        customer = fake_stripe.v1.customers.create(params={"name": "送达测试", "email": "delivery@mashang.invalid"})
        event = next(e for e in fake_stripe.v1.events.list(params={"type": "customer.created"}).data
                     if e.data.object.id == customer.id)
        with django_db_blocker.unblock():
            row = wait_for(lambda: WebhookEvent.objects.filter(stripe_event_id=event.id, status="done").first(),
                           timeout=20)
            assert row is not None, "localstripe's delivery never reached the app"
            assert row.type == "customer.created" and row.api_version == "2017-08-15"
            assert row.outcome.startswith("ignored") and row.attempts == 1
    finally:
        register(["mashang.nothing"])  # localstripe cannot forget a webhook: leave it listening to nothing
        with django_db_blocker.unblock():
            if event is not None:
                WebhookEvent.objects.filter(stripe_event_id=event.id).delete()
