"""What the cases module tells people through the notification service: the reporter hears of each
step by the case's reference, pool workers of a new case they may grab (and only they), and a
doubled relay makes no second message."""
from __future__ import annotations

import pytest

from kernel.events import relay_pending
from kernel.models import HandledEvent, OutboxEvent
from modules.cases import services
from notifications.models import Message
from tests.cases.conftest import T0

pytestmark = pytest.mark.django_db


def submit(w, category="corridor_clutter", **kw):
    return services.submit_case(actor=w.reporter, category=category, channel="snap", title="楼道里堆满了纸箱",
                                household=w.places["h1"], now=T0, **kw)


def inbox(user, kind=None):
    qs = Message.objects.filter(recipient=user, channel="inbox").order_by("id")
    return list(qs.filter(kind=kind) if kind else qs)


def test_the_reporter_hears_accepted_resolved_and_closed_by_reference(in_district):
    w = in_district
    case = submit(w)
    assert case.assignee == w.gw1
    relay_pending()
    services.accept_case(actor=w.gw1, case=case)
    services.resolve_case(actor=w.gw1, case=case, result="纸箱已清理")
    services.confirm_and_rate(actor=w.reporter, case=case, rating=5)
    relay_pending()
    got = inbox(w.reporter)
    assert [m.kind for m in got] == ["cases.accepted", "cases.resolved", "cases.closed"]
    for message in got:
        assert case.ref in message.title and message.link == f"/cases/{case.ref}/"
        assert f"/{case.pk}/" not in message.link
    assert "纸箱已清理" in got[1].body
    assert case.ref in inbox(w.gw1, "cases.assigned")[0].title  # dispatched to the grid's worker


def test_a_doubled_relay_makes_one_message_per_event_and_person(in_district):
    w = in_district
    case = submit(w)
    services.accept_case(actor=w.gw1, case=case)
    relay_pending()
    event = OutboxEvent.objects.get(topic="cases.accepted", payload__case_id=case.pk)
    HandledEvent.objects.filter(event=event).delete()  # as if the worker died before marking it handled
    OutboxEvent.objects.filter(pk=event.pk).update(delivered_at=None)
    relay_pending()
    assert HandledEvent.objects.filter(event=event, handler="cases.notify_accepted").count() == 1
    assert len(inbox(w.reporter, "cases.accepted")) == 1


def test_pool_workers_hear_of_a_new_case_and_a_worker_outside_the_grid_does_not(in_district):
    w = in_district
    case = submit(w, category="parking")  # a grab category: the case goes to G0101's pool
    assert case.assignee is None and case.assign_mode == "grab"
    relay_pending()
    told = set(Message.objects.filter(kind="cases.pooled", channel="inbox").values_list("recipient", flat=True))
    assert told == {w.gw1.pk, w.gw1b.pk}
    assert w.gw2.pk not in told and w.reporter.pk not in told
    assert "grab" in services.allowed_actions(w.gw1, case) and "grab" not in services.allowed_actions(w.gw2, case)
    assert case.ref in inbox(w.gw1, "cases.pooled")[0].title


def test_the_reporter_hears_when_the_case_is_escalated(in_district):
    from tests.cases.conftest import at

    w = in_district
    case = submit(w)
    assert services.escalate_overdue(now=at(2026, 10, 1, 10, 0)) == 1
    relay_pending()
    (message,) = inbox(w.reporter, "cases.escalated")
    assert case.ref in message.title
