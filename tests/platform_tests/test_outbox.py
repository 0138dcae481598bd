"""Domain events: written in the same transaction as the change, relayed by a real Celery worker
to idempotent handlers, in the district's own schema."""
import os
import threading

import pytest
from django.db import connection, transaction
from django_tenants.utils import tenant_context

from kernel import events
from kernel.events import relay_pending
from kernel.models import HandledEvent, OutboxEvent
from modules.notices.models import Notice
from modules.notices.services import publish_notice
from tests.conftest import admin_of, wait_for


@pytest.mark.django_db
def test_event_is_written_with_the_change_or_not_at_all(kangbashi):
    admin = admin_of(kangbashi)
    with tenant_context(kangbashi):
        with pytest.raises(RuntimeError):
            with transaction.atomic():
                publish_notice(actor=admin, title="会回滚", body="x", category="news")
                raise RuntimeError("boom")
        assert not Notice.objects.filter(title="会回滚").exists()
        notice_ids = set(Notice.objects.values_list("pk", flat=True))
        payload_ids = {e.payload["notice_id"] for e in OutboxEvent.objects.filter(topic="notices.published")}
        assert payload_ids <= notice_ids  # no event outlived its rolled-back change


@pytest.mark.django_db
def test_relay_runs_each_handler_once(kangbashi):
    admin = admin_of(kangbashi)
    with tenant_context(kangbashi):
        notice = publish_notice(actor=admin, title="幂等", body="x", category="news")
        event = OutboxEvent.objects.get(payload__notice_id=notice.pk)
        assert relay_pending() >= 1
        notice.refresh_from_db()
        first = notice.announced_at
        assert first is not None
        # a redelivery (worker killed after the handler, before marking) changes nothing
        OutboxEvent.objects.filter(pk=event.pk).update(delivered_at=None)
        relay_pending()
        notice.refresh_from_db()
        assert notice.announced_at == first
        assert HandledEvent.objects.filter(event=event).count() == 1


@pytest.mark.django_db
def test_handlers_of_a_disabled_module_do_not_run(kangbashi):
    from tenants.services import disable_module

    admin = admin_of(kangbashi)
    with tenant_context(kangbashi):
        notice = publish_notice(actor=admin, title="关了", body="x", category="news")
    district = disable_module(actor=None, district=kangbashi, key="notices")
    with tenant_context(district):
        relay_pending()
        notice.refresh_from_db()
        assert notice.announced_at is None


@pytest.mark.django_db
def test_a_failing_handler_keeps_the_event_for_retry(kangbashi):
    calls = []

    @events.handles("test.flaky", name="test.flaky")
    def flaky(payload, event):
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("first try fails")

    try:
        with tenant_context(kangbashi):
            with transaction.atomic():
                event = events.publish("test.flaky", {"n": 1})
            relay_pending()
            event.refresh_from_db()
            assert event.delivered_at is None and event.attempts == 1 and "first try fails" in event.last_error
            relay_pending()
            event.refresh_from_db()
            assert event.delivered_at is not None and len(calls) == 2
    finally:
        events._handlers.pop("test.flaky", None)


@pytest.mark.worker
def test_a_real_worker_delivers_in_the_right_schema(celery_worker, django_db_blocker):
    """Committed for real (no test transaction): the worker is another process."""
    from tenants.models import District

    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        district = District.objects.get(slug="worker")
        admin = admin_of(district)
        with tenant_context(district):
            notice = publish_notice(actor=admin, title="真实的工作进程", body="x", category="news")

        def announced():
            with tenant_context(district):
                return Notice.objects.filter(pk=notice.pk, announced_at__isnull=False).exists()

        assert wait_for(announced, timeout=60), "the worker did not relay the event"
        with tenant_context(district):
            event = OutboxEvent.objects.get(payload__notice_id=notice.pk)
            assert event.delivered_at is not None
            assert HandledEvent.objects.filter(event=event, handler="notices.announce").count() == 1
        # the same notice id in another district was not touched by the worker
        other = District.objects.get(slug="kangbashi")
        with tenant_context(other):
            assert not Notice.objects.filter(title="真实的工作进程").exists()
        connection.set_schema_to_public()


@pytest.mark.worker
def test_events_left_while_the_broker_was_down_are_swept(celery_worker, django_db_blocker, monkeypatch):
    """If the relay could not be queued, the periodic sweep (sent here by hand) delivers."""
    from kernel.tasks import relay_all_districts
    from tenants.models import District

    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        district = District.objects.get(slug="worker")
        admin = admin_of(district)
        monkeypatch.setattr(events, "kick_relay", lambda: None)  # as if the broker were unreachable
        with tenant_context(district):
            notice = publish_notice(actor=admin, title="断线补发", body="x", category="news")
            assert OutboxEvent.objects.get(payload__notice_id=notice.pk).delivered_at is None
        connection.set_schema_to_public()
        relay_all_districts.apply_async(headers={"_schema_name": "public"})

        def announced():
            with tenant_context(district):
                return Notice.objects.filter(pk=notice.pk, announced_at__isnull=False).exists()

        assert wait_for(announced, timeout=60)
        connection.set_schema_to_public()


def test_requests_stop_waiting_on_a_broken_broker(monkeypatch):
    """Kicks are sent by a background thread, coalesced; after a broker failure they are dropped for the
    back-off (the periodic sweep delivers what they would have)."""
    from config.celery import app

    calls = []

    def broken(name, *args, **kwargs):
        calls.append((name, kwargs["headers"]["_schema_name"]))
        raise ConnectionError("broker down")

    monkeypatch.setattr(app, "send_task", broken)
    monkeypatch.setattr(events, "_broker_down_until", 0.0)
    monkeypatch.setattr(events, "_kick_thread", threading.current_thread())  # no sender thread: flush by hand
    monkeypatch.setattr(events, "_kick_pid", os.getpid())
    events.kick_relay()
    events.kick_relay()  # the same district's relay twice: one send
    assert events.flush_kicks() == 0
    assert calls == [("kernel.tasks.relay_outbox", "public")]
    events.kick("kernel.tasks.relay_outbox", "d_other")
    assert events.flush_kicks() == 0 and len(calls) == 1  # within the back-off: no wait on the broker
    monkeypatch.setattr(events, "_broker_down_until", 0.0)
    events.kick("kernel.tasks.relay_outbox", "d_other")
    events.flush_kicks()
    assert calls[-1] == ("kernel.tasks.relay_outbox", "d_other") and len(calls) == 2
