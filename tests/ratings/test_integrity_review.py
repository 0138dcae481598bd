"""The review of held ratings: release / reject with a reason, audited, published; who may decide
(district admins all; community staff the merchants of their area; nobody their own rating); the
queue, its filters and the "held out and why" counts."""
from __future__ import annotations

import pytest

from kernel.errors import Conflict, DomainError, NotAllowed
from tests.conftest import make_user
from tests.ratings.conftest import add_rating

COLLEAGUE = [{"rule": "colleague", "detail": "同部门", "numbers": {}}]
FAMILY = [{"rule": "family", "detail": "同户", "numbers": {}}]


def held(**kwargs):
    return add_rating(state="held", hold_reasons=kwargs.pop("reasons", COLLEAGUE), rater_key=kwargs.pop(
        "rater_key", None), **kwargs)


def test_release_counts_it_with_audit_and_event(in_district):
    from kernel.models import AuditEntry, OutboxEvent
    from modules.ratings.integrity import services
    from modules.ratings.ledger.models import Tally

    rw = in_district
    r = held(official=rw.o1, level=2, rater=rw.o2_user)
    assert not Tally.objects.filter(official=rw.o1, n__gt=0).exists()  # held: in no figure
    services.release(actor=rw.admin, rating=r, note="  确为办事群众  ")
    r.refresh_from_db()
    assert r.state == "counted" and r.decided_by_id == rw.admin.pk and r.decision_note == "确为办事群众"
    assert Tally.objects.get(official=rw.o1, dimension="").n == 1
    entry = AuditEntry.objects.get(action="ratings.release", target_id=str(r.pk))
    assert entry.before == {"state": "held"} and entry.after["state"] == "counted"
    assert entry.after["rules"] == ["colleague"]
    event = OutboxEvent.objects.get(topic="ratings.reviewed")
    assert event.payload == {"rating_id": r.pk, "state": "counted"}


def test_reject_keeps_it_out_with_audit_and_event(in_district):
    from kernel.models import AuditEntry, OutboxEvent
    from modules.ratings.integrity import services
    from modules.ratings.ledger.models import Tally

    rw = in_district
    r = held(merchant=rw.shop, level=1, rater=rw.res1, reasons=FAMILY)
    services.reject(actor=rw.admin, rating=r, note="店主家人刷评")
    r.refresh_from_db()
    assert r.state == "rejected" and r.decision_note == "店主家人刷评"
    assert not Tally.objects.filter(merchant=rw.shop, n__gt=0).exists()
    assert AuditEntry.objects.filter(action="ratings.reject", target_id=str(r.pk)).exists()
    assert OutboxEvent.objects.get(topic="ratings.reviewed").payload == {"rating_id": r.pk, "state": "rejected"}
    # a reviewer may change their mind, with a reason
    services.release(actor=rw.admin, rating=r, note="复核后确认属实")
    assert Tally.objects.get(merchant=rw.shop, dimension="").n == 1


def test_a_reason_is_required_and_only_held_ratings_are_decided(in_district):
    from modules.ratings.integrity import services

    rw = in_district
    r = held(official=rw.o1, rater=rw.o2_user)
    with pytest.raises(DomainError) as err:
        services.release(actor=rw.admin, rating=r, note="   ")
    assert "note" in err.value.fields and err.value.status == 400
    r.refresh_from_db()
    assert r.state == "held" and r.decided_at is None
    counted = add_rating(official=rw.o1, rater=rw.res1)
    with pytest.raises(Conflict):
        services.reject(actor=rw.admin, rating=counted, note="不是刷评")
    with pytest.raises(DomainError):
        services.decide(actor=rw.admin, rating=r, decision="maybe", note="x")


@pytest.fixture
def other_staff(rw):
    """Community staff of C02 (the shop is in C01)."""
    return make_user(rw.district, "rt_staff_c02", "community_staff", "community", "C02")


def test_who_may_decide(other_staff, in_district):
    from modules.ratings.integrity import services

    rw = in_district
    official_rating = held(official=rw.o1, rater=rw.res2)
    shop_rating = held(merchant=rw.shop, rater=rw.res2, reasons=FAMILY)  # the shop is in G0101, community C01
    for who in (rw.res1, rw.gw1, rw.head, rw.o1_user, other_staff):
        with pytest.raises(NotAllowed):
            services.release(actor=who, rating=shop_rating, note="看着没问题")
    with pytest.raises(NotAllowed):  # officials' ratings: district administrators only
        services.release(actor=rw.staff, rating=official_rating, note="看着没问题")
    with pytest.raises(NotAllowed):  # the merchant's owner never decides about their own shop
        services.release(actor=rw.shop_owner, rating=shop_rating, note="好评")
    services.release(actor=rw.staff, rating=shop_rating, note="顾客确有消费")  # community staff of C01
    own = held(merchant=rw.shop, rater=rw.admin, reasons=FAMILY)
    with pytest.raises(NotAllowed):  # nobody decides a rating they gave
        services.reject(actor=rw.admin, rating=own, note="自己评的")
    own.refresh_from_db()
    assert own.state == "held"


def test_the_queue_filters_and_scopes(in_district):
    from modules.ratings.integrity import selectors

    rw = in_district
    a = held(official=rw.o1, rater=rw.res2)
    b = held(merchant=rw.shop, rater=rw.res2, reasons=FAMILY)
    c = held(merchant=rw.stall, rater_key="p:phone-rater", reasons=[{"rule": "burst", "detail": "x", "numbers": {
        "before": 30, "minutes": 60, "limit": 30}}])
    add_rating(official=rw.o2, rater=rw.res1)  # counted: not in the queue
    ids = lambda qs: [r.pk for r in qs]  # noqa: E731
    assert ids(selectors.held_queue(rw.admin)) == [a.pk, b.pk, c.pk]
    assert ids(selectors.held_queue(rw.admin, rule="family")) == [b.pk]
    assert ids(selectors.held_queue(rw.admin, subject_kind="official")) == [a.pk]
    assert ids(selectors.held_queue(rw.admin, unit="civil-affairs")) == [a.pk]
    assert ids(selectors.held_queue(rw.admin, unit="G0102")) == [c.pk]
    assert ids(selectors.held_queue(rw.staff)) == [b.pk, c.pk]  # C01's merchants, no official
    assert ids(selectors.held_queue(rw.res1)) == []
    assert selectors.queue_counts(rw.admin)["family"] == 1
    reasons = selectors.reasons_of(c)
    assert reasons[0]["rule"] == "burst" and "30" in reasons[0]["detail"] and reasons[0]["name"]


def test_held_out_and_why_for_a_subject_and_period(in_district):
    from modules.ratings.integrity import selectors, services

    rw = in_district
    a = held(official=rw.o1, rater=rw.res1, period_key="2026-11")
    held(official=rw.o1, rater=rw.res2, period_key="2026-11", reasons=COLLEAGUE + FAMILY)
    held(official=rw.o1, rater=rw.res3, period_key="2026-10")
    held(official=rw.o2, rater=rw.res3, period_key="2026-11")
    services.reject(actor=rw.admin, rating=a, note="同事互评")
    out = selectors.held_out_by_rule(official=rw.o1, period_key="2026-11")
    assert [(o["rule"], o["held"], o["rejected"]) for o in out] == [("colleague", 1, 1), ("family", 1, 0)]
    assert all(o["name"] for o in out)


def test_the_context_of_a_held_rating(in_district):
    from modules.ratings.integrity import selectors

    rw = in_district
    h1 = rw.places["h1"]
    first = add_rating(official=rw.o1, rater_key="p:a", household=h1, device_hash="dev1", period_key="2026-12")
    add_rating(official=rw.o1, rater_key="p:b", network_hash="net1", period_key="2026-12")
    add_rating(official=rw.o1, rater_key="p:c", household=h1, period_key="2026-11")  # another period
    r = held(official=rw.o1, rater_key="p:d", household=h1, device_hash="dev1", network_hash="net1",
             period_key="2026-12", reasons=[{"rule": "same_household", "detail": "x"}])
    ctx = selectors.held_context(r)
    assert [(o["id"], o["matches"]) for o in ctx["same_source"]][0] == (first.pk, ["household", "device"])
    assert [o["matches"] for o in ctx["same_source"]][1] == ["network"]
    assert len(ctx["same_source"]) == 2
    assert ctx["around"] == 3 and ctx["history"]["count"] == 3
