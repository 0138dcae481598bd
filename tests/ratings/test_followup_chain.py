"""A bad rating is followed up, through the real outbox: ``ratings.bad_rating`` → a follow-up case in
cases for the subject's unit, due on the district calendar → ``cases.follow_up_opened`` links the
FollowUp → the callback → the case is resolved and the rater hears the outcome. Redelivery opens
nothing twice; a module switched off handles nothing."""
from __future__ import annotations

import datetime as dt

from django.db import transaction

from kernel import events
from kernel.events import relay_pending
from kernel.models import AuditEntry, HandledEvent, OutboxEvent
from tests.ratings.conftest import add_rating


def bad(rw, *, official=None, merchant=None, rater=None, level=1, comment="态度很差"):
    """A bad rating from a code, as the ledger saves it: the rating, its FollowUp, the event."""
    from modules.ratings.followup import services

    rating = add_rating(official=official, merchant=merchant, level=level, rater=rater or rw.res1, comment=comment)
    with transaction.atomic():
        follow_up = services.open_follow_up(rating=rating)
        events.publish("ratings.bad_rating", services.bad_rating_payload(rating))
    return rating, follow_up


def test_open_follow_up_is_idempotent_and_takes_the_unit(in_district):
    from modules.ratings.followup import services
    from modules.ratings.followup.models import FollowUp

    rw = in_district
    rating = add_rating(official=rw.o1, level=2, rater=rw.res1)
    with transaction.atomic():
        first = services.open_follow_up(rating=rating)
        again = services.open_follow_up(rating=rating)
    assert first.pk == again.pk and FollowUp.objects.filter(rating=rating).count() == 1
    assert (first.unit_kind, first.unit_code, first.status) == ("department", "civil-affairs", "open")
    shop = add_rating(merchant=rw.shop, level=1, rater=rw.res2)
    with transaction.atomic():
        assert (services.open_follow_up(rating=shop).unit_kind, shop.grid.code) == ("grid", "G0101")
        assert services.open_follow_up(rating=shop).unit_code == "G0101"
    good = add_rating(official=rw.o2, level=4, rater=rw.res1)
    case_rating = add_rating(official=rw.o2, level=1, rater=rw.res2, channel="case", case_id=987654)
    with transaction.atomic():
        assert services.open_follow_up(rating=good) is None
        linked_later = services.open_follow_up(rating=case_rating)
    assert (linked_later.unit_kind, linked_later.unit_code) == ("", "")


def test_bad_rating_to_case_to_callback_to_the_raters_message(in_district):
    from modules.cases import rating_follow_ups, selectors
    from modules.cases.models import Case, CaseEvent
    from modules.ratings.followup import services
    from notifications.models import Message

    rw = in_district
    rating, follow_up = bad(rw, official=rw.o1)
    event = OutboxEvent.objects.get(topic="ratings.bad_rating", payload__rating_id=rating.pk)
    relay_pending()  # cases opens the follow-up case; then cases.follow_up_opened links it
    relay_pending()
    case = rating_follow_ups.case_of_rating(rating.pk)
    assert case is not None and case.title == "回访：钱进" and "态度很差" in case.description
    assert (case.responsible_kind, case.responsible_code, case.status) == ("department", "civil-affairs", "submitted")
    assert case.reporter is None and "/ratings/staff/follow-ups/" in case.description and case.category.code == "rating_follow_up" and not case.category.active
    due = selectors.work_calendar(event.created_at).add_working_days(event.created_at, 15)
    assert case.resolution_due == due
    assert AuditEntry.objects.filter(action="cases.follow_up.open", target_id=str(case.pk)).count() == 1
    follow_up.refresh_from_db()
    assert (follow_up.case_id, follow_up.case_ref, follow_up.due_at) == (case.pk, case.ref, due)
    # redelivery: the same payload again (a new event) opens nothing more
    with transaction.atomic():
        events.publish("ratings.bad_rating", services.bad_rating_payload(rating))
    relay_pending()
    relay_pending()
    assert Case.objects.filter(category__code="rating_follow_up").count() == 1

    # the department's head calls back: the case is resolved through the cases services
    services.record_callback(actor=rw.head, follow_up=follow_up, outcome="explained", note="已当面解释政策",
                             reached=True)
    relay_pending()
    case.refresh_from_db()
    assert case.status == "resolved" and "已当面解释政策" in case.result and case.assignee == rw.head
    assert CaseEvent.objects.filter(case=case, kind="resolved").count() == 1
    assert AuditEntry.objects.filter(action="cases.resolve", target_id=str(case.pk)).count() == 1
    assert AuditEntry.objects.filter(action="ratings.follow_up.callback", target_id=str(follow_up.pk)).count() == 1
    [message] = Message.objects.filter(kind="ratings.callback", recipient=rw.res1)
    assert "钱进" in message.body and "已当面解释政策" in message.body
    # delivered again: nothing twice
    callback = OutboxEvent.objects.get(topic="ratings.callback_recorded")
    HandledEvent.objects.filter(event=callback).delete()
    callback.delivered_at = None
    callback.save(update_fields=["delivered_at"])
    relay_pending()
    assert Message.objects.filter(kind="ratings.callback").count() == 1
    assert CaseEvent.objects.filter(case=case, kind="resolved").count() == 1


def test_a_merchants_follow_up_goes_to_its_grid_worker(in_district):
    from modules.cases import rating_follow_ups
    from modules.ratings.followup import services
    from notifications.models import Message

    rw = in_district
    rating, follow_up = bad(rw, merchant=rw.shop, rater=rw.res2, level=2)
    relay_pending()
    relay_pending()
    case = rating_follow_ups.case_of_rating(rating.pk)
    assert (case.responsible_kind, case.responsible_code, case.grid.code) == ("grid_workers", "G0101", "G0101")
    assert case.assignee == rw.gw1 and case.status == "assigned"
    assert Message.objects.filter(kind="cases.assigned", recipient=rw.gw1).count() == 1  # the worker heard
    follow_up.refresh_from_db()
    assert (follow_up.unit_kind, follow_up.unit_code, follow_up.case_id) == ("grid", "G0101", case.pk)
    # the community's staff record the callback: the cases services would not let them accept a case
    # assigned to the grid worker, so the callback resolves it on the case's own timeline
    services.record_callback(actor=rw.staff, follow_up=follow_up, outcome="fixed_by_deadline", note="下周整改",
                             reached=True, fix_by=dt.date.today() + dt.timedelta(days=7))
    relay_pending()
    case.refresh_from_db()
    assert case.status == "resolved" and "限期解决" in case.result
    assert case.events.filter(kind="resolved", data__via="ratings.callback", actor=rw.staff).count() == 1


def test_a_case_ratings_follow_up_links_by_the_rated_case(in_district):
    from modules.ratings.followup import handlers, services

    rw = in_district
    rating = add_rating(official=rw.o1, level=1, rater=rw.res1, channel="case", case_id=424242, case_ref="KBS-1")
    with transaction.atomic():
        follow_up = services.open_follow_up(rating=rating)
        events.publish("cases.follow_up_opened", {"case_id": 5151, "ref": "KBS-2", "follow_up_of_id": 424242,
                                                  "rating": 1, "unit_kind": "community", "unit_code": "C01"})
    relay_pending()
    follow_up.refresh_from_db()
    assert (follow_up.case_id, follow_up.case_ref, follow_up.unit_kind, follow_up.unit_code) == (
        5151, "KBS-2", "community", "C01")
    handlers.on_follow_up_opened({"case_id": 9999, "ref": "X", "follow_up_of_id": 424242}, None)
    follow_up.refresh_from_db()
    assert follow_up.case_id == 5151  # linked once


def test_module_off_handles_nothing(in_district):
    from modules.cases.models import Case
    from modules.ratings.followup.models import FollowUp

    rw = in_district
    district = rw.district
    district.modules = [m for m in district.modules if m != "cases"]
    bad(rw, official=rw.o1)
    relay_pending()
    assert not Case.objects.filter(category__code="rating_follow_up").exists()

    district.modules = [m for m in district.modules if m != "ratings"] + ["cases"]
    rating = add_rating(official=rw.o2, level=1, rater=rw.res2)
    with transaction.atomic():
        FollowUp.objects.create(rating=rating, unit_kind="department", unit_code="civil-affairs",
                                opened_at=rating.created_at)
        events.publish("cases.follow_up_opened", {"case_id": 777, "ref": "KBS-7", "follow_up_of_id": None,
                                                  "rating": 1, "unit_kind": "department",
                                                  "unit_code": "civil-affairs", "rating_id": rating.pk,
                                                  "resolution_due": "2026-12-31T10:00:00+08:00"})
    relay_pending()
    assert FollowUp.objects.get(rating=rating).case_id is None
