"""Signed status webhooks: one delivery per (integration, event, case), a signature the receiver can
check, retries with back-off until a 2xx (then never again), giving up with the last error, and the
answer given on a snap report reaching the hotline case linked to it. A real HTTP receiver runs on
127.0.0.1, allowed by WEBHOOK_ALLOWED_HOSTS (internal addresses are refused otherwise: test_webhook_ssrf.py);
nothing is mocked but the broker outage."""
import datetime as dt
import hashlib
import hmac
import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from kernel.events import relay_pending
from kernel.models import HandledEvent, OutboxEvent
from modules.cases import services
from modules.cases.intake import integrations, webhooks
from modules.cases.models import Case, WebhookDelivery
from tests.conftest import admin_of, client_for, wait_for

D = WebhookDelivery.Status


class Receiver:
    """Records every request; answers the queued status codes first, then 200."""

    def __init__(self):
        self.requests: list[tuple[dict, bytes]] = []
        self.codes: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(receiver.codes.pop(0) if receiver.codes else 200)
                self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                self.end_headers()
                self.wfile.write(b"nope")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/mashang"

    def bodies(self) -> list[dict]:
        return [json.loads(body) for _headers, body in self.requests]


@pytest.fixture
def receiver(settings):
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]  # the operator allows the local receiver (kernel/netguard.py)
    rx = Receiver()
    thread = threading.Thread(target=rx.server.serve_forever, daemon=True)
    thread.start()
    yield rx
    rx.server.shutdown()
    rx.server.server_close()


@pytest.fixture
def hotline(in_district, receiver):
    integration, _key = integrations.create_integration(actor=in_district.admin, name="12345", kind="hotline",
                                                        webhook_url=receiver.url)
    return integration


def hotline_case(w, integration, external_id="12345-0001", **kw):
    return services.submit_case(actor=None, channel="hotline", integration=integration, external_id=external_id,
                                category=kw.pop("category", "corridor_clutter"), title=kw.pop("title", "楼道堆物"),
                                grid=w.places["g1"], **kw)


def later(**delta):
    return timezone.now() + dt.timedelta(**delta)


def verify(secret: str, headers: dict, body: bytes) -> bool:
    """What the receiver does (docs/integrations.md)."""
    scheme, _, signature = headers["x-mashang-signature"].partition("=")
    expected = hmac.new(secret.encode(), f"{headers['x-mashang-timestamp']}.".encode() + body,
                        hashlib.sha256).hexdigest()
    return scheme == "v1" and hmac.compare_digest(signature, expected)


@pytest.mark.django_db
def test_a_status_step_reaches_the_receiver_signed(in_district, hotline, receiver):
    case = hotline_case(in_district, hotline)
    services.accept_case(actor=in_district.gw1, case=case)
    relay_pending()
    assert webhooks.deliver_due() == 2
    assert [b["event"] for b in receiver.bodies()] == ["cases.submitted", "cases.accepted"]
    headers, body = receiver.requests[1]
    payload = json.loads(body)
    assert headers["x-mashang-event"] == "cases.accepted" and headers["content-type"].startswith("application/json")
    assert headers["x-mashang-delivery"] == payload["event_id"]
    assert payload["case"]["ref"] == case.ref and payload["case"]["external_id"] == "12345-0001"
    assert payload["case"]["status"] == "accepted" and payload["case"]["resolution_due"]
    assert payload["occurred_at"] and payload["case"]["status_url"].endswith("/intake/12345-0001/")
    assert verify(integrations.webhook_secret(hotline), headers, body)
    assert not verify("a-wrong-secret", headers, body)
    assert not verify(integrations.webhook_secret(hotline), headers, body.replace(b"accepted", b"resolved"))
    assert set(WebhookDelivery.objects.values_list("status", "attempts")) == {(D.DELIVERED, 1)}


@pytest.mark.django_db
def test_a_failing_receiver_gets_retries_with_back_off_until_it_answers_once(in_district, hotline, receiver):
    hotline_case(in_district, hotline)
    relay_pending()
    receiver.codes = [500, 302]
    assert webhooks.deliver_due() == 0
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (D.PENDING, 1, 500)
    assert delivery.last_error.startswith("HTTP 500")
    assert webhooks.deliver_due() == 0 and len(receiver.requests) == 1  # not due yet
    assert webhooks.deliver_due(now=later(minutes=2)) == 0  # a redirect is not followed
    assert len(receiver.requests) == 2 and WebhookDelivery.objects.get().last_status_code == 302
    assert webhooks.deliver_due(now=later(minutes=8)) == 1
    assert webhooks.deliver_due(now=later(days=30)) == 0
    assert len(receiver.requests) == 3
    assert len({headers["x-mashang-delivery"] for headers, _body in receiver.requests}) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (D.DELIVERED, 3, None)


@pytest.mark.django_db
def test_after_max_attempts_the_delivery_is_failed_with_its_last_error(in_district, hotline, receiver):
    hotline_case(in_district, hotline)
    relay_pending()
    receiver.codes = [503] * webhooks.MAX_ATTEMPTS
    now, waits = timezone.now(), []
    for _ in range(webhooks.MAX_ATTEMPTS):
        assert webhooks.deliver_due(now=now) == 0
        delivery = WebhookDelivery.objects.get()
        if delivery.next_attempt_at:
            waits.append(int((delivery.next_attempt_at - now).total_seconds()))
            now = delivery.next_attempt_at
    assert waits == [60, 300, 1800, 7200, 43200, 86400, 86400, 86400, 86400]
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (D.FAILED, webhooks.MAX_ATTEMPTS, 503)
    assert delivery.last_error.startswith("HTTP 503") and delivery.next_attempt_at is None
    assert webhooks.deliver_due(now=later(days=365)) == 0 and len(receiver.requests) == webhooks.MAX_ATTEMPTS


@pytest.mark.django_db
def test_an_unreachable_receiver_is_retried_later(in_district, hotline, receiver):
    receiver.server.shutdown()
    receiver.server.server_close()  # nothing listens on the port any more
    hotline_case(in_district, hotline)
    relay_pending()
    assert webhooks.deliver_due() == 0
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == D.PENDING and delivery.attempts == 1 and delivery.last_status_code is None
    assert "refused" in delivery.last_error.lower()


@pytest.mark.django_db
def test_a_claimed_delivery_is_sent_once_and_a_dead_senders_claim_runs_out(in_district, hotline, receiver):
    hotline_case(in_district, hotline)
    relay_pending()
    now = timezone.now()
    claimed = webhooks._claim(now)  # a sender took it (and committed), then died before answering
    assert [d.attempts for d in claimed] == [1]
    assert webhooks._claim(now) == [] and webhooks.deliver_due(now=now) == 0  # nobody else sends it meanwhile
    assert webhooks.deliver_due(now=now + webhooks.CLAIM - dt.timedelta(seconds=1)) == 0
    assert receiver.requests == []
    assert webhooks.deliver_due(now=now + webhooks.CLAIM) == 1  # the claim ran out: sent again
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, len(receiver.requests)) == (D.DELIVERED, 2, 1)


@pytest.mark.django_db
def test_a_redelivered_outbox_event_adds_no_second_delivery(in_district, hotline, receiver):
    hotline_case(in_district, hotline)
    relay_pending()
    event = OutboxEvent.objects.get(topic="cases.submitted")
    webhooks.queue_updates(event.payload, event)  # the handler run again for the same event
    HandledEvent.objects.filter(event=event).delete()  # as if the worker died before marking it handled
    OutboxEvent.objects.filter(pk=event.pk).update(delivered_at=None)
    relay_pending()
    assert WebhookDelivery.objects.count() == 1
    webhooks.deliver_due()
    assert len(receiver.requests) == 1


@pytest.mark.django_db
def test_the_answer_on_a_snap_report_reaches_the_hotline_case_linked_to_it(in_district, hotline, receiver):
    w = in_district
    snap = services.submit_case(actor=w.reporter, channel="snap", category="corridor_clutter",
                                title="楼道里堆满了纸箱", household=w.places["h1"])
    call = hotline_case(w, hotline)
    services.link_duplicate(actor=w.gw1, case=call, parent=snap)
    services.accept_case(actor=w.gw1, case=snap)
    services.resolve_case(actor=w.gw1, case=snap, result="纸箱已清理，楼道畅通")
    relay_pending()
    webhooks.deliver_due()
    events = {b["event"]: b["case"] for b in receiver.bodies()}
    assert list(events) == ["cases.submitted", "cases.rejected", "cases.resolved"]  # the hotline case's only
    answered = events["cases.resolved"]
    assert answered["ref"] == call.ref and answered["external_id"] == "12345-0001"
    assert answered["result"] == "纸箱已清理，楼道畅通" and answered["duplicate_of"] == snap.ref
    assert events["cases.rejected"]["reject_reason"] == "duplicate"


@pytest.mark.django_db
def test_a_hotline_case_answered_itself_carries_its_result_and_rating_is_empty(in_district, hotline, receiver):
    w = in_district
    call = hotline_case(w, hotline)
    services.accept_case(actor=w.gw1, case=call)
    services.resolve_case(actor=w.gw1, case=call, result="已清理")
    relay_pending()
    webhooks.deliver_due()
    resolved = receiver.bodies()[-1]
    assert resolved["event"] == "cases.resolved"
    assert resolved["case"]["status"] == "resolved" and resolved["case"]["result"] == "已清理"
    assert resolved["case"]["rating"] is None and resolved["case"]["duplicate_of"] is None


@pytest.mark.django_db
def test_an_escalation_batch_gives_each_case_its_own_delivery(in_district, hotline, receiver,
                                                             django_assert_max_num_queries):
    w = in_district
    calls = [hotline_case(w, hotline, external_id=f"12345-{i}") for i in range(3)]
    services.submit_case(actor=w.reporter, channel="snap", category="noise", title="噪音", household=w.places["h1"])
    relay_pending()
    WebhookDelivery.objects.all().delete()
    assert services.escalate_overdue(now=later(days=3)) == 4
    event = OutboxEvent.objects.get(topic="cases.escalated")
    with django_assert_max_num_queries(4):  # the cases, the district's domain, one insert
        assert webhooks.queue_updates(event.payload, event) == 3
    rows = WebhookDelivery.objects.filter(kind="cases.escalated")
    assert sorted(rows.values_list("case_id", flat=True)) == sorted(c.pk for c in calls)
    assert len(set(rows.values_list("event_id", flat=True))) == 3


@pytest.mark.django_db
def test_an_auto_closed_batch_tells_the_hotline(in_district, hotline, receiver):
    w = in_district
    call = hotline_case(w, hotline)
    services.accept_case(actor=w.gw1, case=call)
    services.resolve_case(actor=w.gw1, case=call, result="已清理")
    relay_pending()
    assert services.auto_close(now=later(days=30)) == 1
    relay_pending()
    webhooks.deliver_due()
    closed = receiver.bodies()[-1]
    assert closed["event"] == "cases.auto_closed" and closed["case"]["status"] == "closed"


@pytest.mark.django_db
def test_nothing_is_owed_without_a_webhook_url_and_an_inactive_integration_waits(in_district, hotline, receiver):
    w = in_district
    silent, _key = integrations.create_integration(actor=w.admin, name="信箱", kind="mailbox")
    services.submit_case(actor=None, channel="mailbox", integration=silent, category="noise", title="噪音",
                         grid=w.places["g3"])
    integrations.update_integration(actor=w.admin, integration=hotline, active=False)
    hotline_case(w, hotline)
    relay_pending()
    assert list(WebhookDelivery.objects.values_list("integration", flat=True)) == [hotline.pk]
    assert webhooks.deliver_due() == 0 and receiver.requests == []
    integrations.update_integration(actor=w.admin, integration=hotline, active=True)
    assert webhooks.deliver_due() == 1 and len(receiver.requests) == 1


@pytest.mark.django_db
def test_a_new_delivery_asks_a_worker_to_send_and_the_sweep_sends_what_a_kick_missed(
        in_district, hotline, receiver, monkeypatch, django_capture_on_commit_callbacks):
    from kernel import events
    from modules.cases import tasks

    kicks = []
    monkeypatch.setattr(events, "kick", lambda task, schema=None: kicks.append(task))  # as if the broker were down
    hotline_case(in_district, hotline)
    with django_capture_on_commit_callbacks(execute=True):
        relay_pending()
    assert tasks.deliver_webhooks.name == "modules.cases.tasks.deliver_webhooks" and tasks.deliver_webhooks.name in kicks
    assert WebhookDelivery.objects.get().status == D.PENDING  # still owed: the 60 s sweep sends it
    assert tasks.deliver_webhooks() == 1 and len(receiver.requests) == 1


@pytest.mark.worker
def test_a_real_worker_tells_the_hotline_within_seconds(celery_worker, django_db_blocker, receiver):
    """Committed for real in the "worker" district (cases switched on for the test, then off again): the
    intake's event is relayed by the worker, whose new delivery kicks the sender at once."""
    from tenants.models import District
    from tenants.services import disable_module, enable_module

    external_id = f"W-{secrets.token_hex(3)}"
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        district = District.objects.get(slug="worker")
        had_cases = district.has_module("cases")
        integration = None
        try:
            if not had_cases:
                district = enable_module(actor=None, district=district, key="cases")
            with tenant_context(district):
                integration, key = integrations.create_integration(
                    actor=admin_of(district), name=f"12345 {external_id}", kind="hotline", webhook_url=receiver.url)
            client = client_for(district)
            made = client.post("/api/v1/cases/intake/", {"external_id": external_id, "category": "corridor_clutter",
                                                         "title": "真实工作进程推送"},
                               format="json", HTTP_AUTHORIZATION=f"Integration {key}")
            assert made.status_code == 201, made.content
            assert wait_for(lambda: receiver.requests, timeout=60), "the worker sent nothing"
            headers, body = receiver.requests[0]
            assert json.loads(body)["case"]["external_id"] == external_id
            assert headers["x-mashang-event"] == "cases.submitted"

            def delivered():
                with tenant_context(district):
                    return WebhookDelivery.objects.filter(integration=integration, status=D.DELIVERED).first()

            assert wait_for(delivered, timeout=30)
            with tenant_context(district):
                assert verify(integrations.webhook_secret(integration), headers, body)
                assert WebhookDelivery.objects.filter(integration=integration).count() == 1
                assert wait_for(lambda: not OutboxEvent.objects.filter(
                    payload__case_id=made.json()["id"], delivered_at__isnull=True).exists(), timeout=30)
            assert len(receiver.requests) == 1
        finally:
            if integration is not None:
                with tenant_context(district):
                    Case.objects.filter(integration=integration).delete()  # and its deliveries
                    integration.delete()
            connection.set_schema_to_public()
            if not had_cases:
                disable_module(actor=None, district=District.objects.get(slug="worker"), key="cases")
        connection.set_schema_to_public()
