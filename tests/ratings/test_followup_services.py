"""The rules of follow-ups, each with the write that would break it: who may record a callback, the
fix-by date, appeals (only the rated person, one pending, upheld removes from the figures and keeps
the row), 追评 (once, by the rater, after the callback), replies (the merchant's owner)."""
from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone

from kernel import events
from kernel.errors import Conflict, DomainError, NotAllowed
from kernel.events import relay_pending
from kernel.models import AuditEntry, OutboxEvent
from tests.conftest import make_user
from tests.ratings.conftest import add_rating


def bad(rw, *, official=None, merchant=None, rater=None, level=1, comment="态度很差"):
    from modules.ratings.followup import services

    rating = add_rating(official=official, merchant=merchant, level=level, rater=rater or rw.res1, comment=comment)
    with transaction.atomic():
        follow_up = services.open_follow_up(rating=rating)
    return rating, follow_up


ADMIN = object()


def call_back(rw, follow_up, actor=ADMIN, **values):
    from modules.ratings.followup import services

    values = {"outcome": "fixed_now", "note": "已解决", "reached": True, **values}
    return services.record_callback(actor=rw.admin if actor is ADMIN else actor, follow_up=follow_up, **values)


@pytest.fixture
def others(rw):
    """A grid worker of another grid and an official of another department (made before entering the
    district: make_user leaves the public schema on)."""
    return (make_user(rw.district, "rt_gw_other", "grid_worker", "grid", "G0201"),
            make_user(rw.district, "rt_urban", "official", "department", "urban-mgmt"))


# --- callbacks ----------------------------------------------------------------------------------------

def test_only_the_units_staff_may_record_a_callback(others, in_district):
    from modules.ratings.followup import selectors

    rw = in_district
    other_gw, urban = others
    _, of_official = bad(rw, official=rw.o1)
    _, of_shop = bad(rw, merchant=rw.shop, rater=rw.res2)
    for actor, follow_up in ((rw.res2, of_official), (urban, of_official), (rw.gw1, of_official),
                             (rw.o1_user, of_official),  # the rated official, though in the department
                             (other_gw, of_shop), (rw.head, of_shop), (rw.shop_owner, of_shop), (None, of_shop)):
        with pytest.raises(NotAllowed):
            call_back(rw, follow_up, actor=actor)
    assert not AuditEntry.objects.filter(action="ratings.follow_up.callback").exists()
    assert not OutboxEvent.objects.filter(topic="ratings.callback_recorded").exists()
    assert {f.pk for f in selectors.follow_ups_for(rw.o1_user)} == set()  # not their own rating
    assert {f.pk for f in selectors.follow_ups_for(rw.o2_user)} == {of_official.pk}
    assert {f.pk for f in selectors.follow_ups_for(rw.staff)} == {of_shop.pk}  # C01 covers G0101
    assert {f.pk for f in selectors.follow_ups_for(rw.admin)} == {of_official.pk, of_shop.pk}

    done = call_back(rw, of_official, actor=rw.o2_user)  # a colleague in the department
    assert (done.status, done.called_by, done.reached) == ("done", rw.o2_user, True)
    call_back(rw, of_shop, actor=rw.gw1)
    with pytest.raises(Conflict):
        call_back(rw, of_shop, actor=rw.admin)  # recorded once
    assert AuditEntry.objects.filter(action="ratings.follow_up.callback").count() == 2
    event = OutboxEvent.objects.filter(topic="ratings.callback_recorded").first()
    assert {"rating_id", "case_id", "outcome", "note"} <= set(event.payload)


def test_the_fix_by_date_and_the_other_fields(in_district):
    rw = in_district
    _, follow_up = bad(rw, official=rw.o1)
    today = timezone.localdate()
    for values, field in (({"outcome": "fixed_by_deadline"}, "fix_by"),
                          ({"outcome": "fixed_by_deadline", "fix_by": today - dt.timedelta(days=1)}, "fix_by"),
                          ({"outcome": "someday"}, "outcome"), ({"note": "  "}, "note"),
                          ({"note": "x" * 1001}, "note"), ({"reached": None}, "reached")):
        with pytest.raises(DomainError) as caught:
            call_back(rw, follow_up, **values)
        assert field in caught.value.fields
    follow_up.refresh_from_db()
    assert follow_up.status == "open"
    done = call_back(rw, follow_up, outcome="fixed_by_deadline", fix_by=today, reached=False)
    assert done.fix_by == today and done.reached is False
    _, other = bad(rw, official=rw.o2)
    explained = call_back(rw, other, outcome="explained", fix_by=today + dt.timedelta(days=3))
    assert explained.fix_by is None  # only a deadline keeps a date


def test_the_callback_rate_counts_real_name_bad_ratings(in_district):
    from modules.ratings.followup import selectors

    rw = in_district
    _, a = bad(rw, official=rw.o1)
    _, b = bad(rw, official=rw.o2, rater=rw.res2)
    _, c = bad(rw, merchant=rw.shop, rater=rw.res3)
    anonymous = add_rating(official=rw.o3, level=1, rater_key="p:abc", real_name=False)
    with transaction.atomic():
        from modules.ratings.followup import services

        services.open_follow_up(rating=anonymous)
    past = timezone.now() - dt.timedelta(days=1)
    type(b).objects.filter(pk=b.pk).update(due_at=past)
    call_back(rw, a)
    rate = selectors.callback_rate()
    assert (rate.overall.total, rate.overall.called, rate.overall.overdue) == (3, 1, 1)
    assert rate.overall.percent == pytest.approx(33.3)
    units = {(k, code): r for k, code, _name, r in rate.units}
    assert (units[("department", "civil-affairs")].called, units[("department", "civil-affairs")].total) == (1, 2)
    assert units[("grid", "G0101")].total == 1
    assert list(selectors.overdue()) == [type(b).objects.get(pk=b.pk)]
    mine = selectors.callback_rate(units=selectors.units_of(rw.gw1))
    assert (mine.overall.total, mine.overall.called) == (1, 0)
    call_back(rw, b)
    call_back(rw, c)
    assert selectors.callback_rate().overall.complete


# --- appeals ------------------------------------------------------------------------------------------

def test_an_upheld_appeal_removes_the_rating_from_the_figures_and_keeps_it(in_district):
    from modules.ratings.followup import services
    from modules.ratings.ledger.models import Rating, Tally
    from notifications.models import Message

    rw = in_district
    rating, _ = bad(rw, official=rw.o1)
    for stranger in (rw.res1, rw.o2_user, rw.admin, rw.head):
        with pytest.raises(NotAllowed):
            services.file_appeal(actor=stranger, rating=rating, reason="恶意差评")
    with pytest.raises(DomainError):
        services.file_appeal(actor=rw.o1_user, rating=rating, reason=" ")
    appeal = services.file_appeal(actor=rw.o1_user, rating=rating, reason="此人当天未来办事")
    with pytest.raises(Conflict):
        services.file_appeal(actor=rw.o1_user, rating=rating, reason="再申诉一次")
    with pytest.raises(NotAllowed):
        services.decide_appeal(actor=rw.head, appeal=appeal, decision="upheld", reason="属实")
    with pytest.raises(DomainError):
        services.decide_appeal(actor=rw.admin, appeal=appeal, decision="upheld", reason="")
    assert Tally.objects.get(official=rw.o1, dimension="").n == 1
    decided = services.decide_appeal(actor=rw.admin, appeal=appeal, decision="upheld", reason="监控显示当天未到窗口")
    assert decided.status == "upheld" and decided.decided_by == rw.admin
    rating.refresh_from_db()
    assert rating.state == "removed" and Rating.objects.filter(pk=rating.pk).exists()
    assert Tally.objects.get(official=rw.o1, dimension="").n == 0
    assert AuditEntry.objects.filter(action="ratings.appeal.decide", target_id=str(appeal.pk)).count() == 1
    with pytest.raises(Conflict):
        services.decide_appeal(actor=rw.admin, appeal=appeal, decision="dismissed", reason="改主意")
    with pytest.raises(Conflict):  # a removed rating is not appealed again
        services.file_appeal(actor=rw.o1_user, rating=rating, reason="再来")
    relay_pending()
    [told] = Message.objects.filter(kind="ratings.appeal_upheld", recipient=rw.o1_user)
    assert "监控显示当天未到窗口" in told.body


def test_a_dismissed_appeal_keeps_the_rating_counted(in_district):
    from modules.ratings.followup import services
    from modules.ratings.ledger.models import Tally

    rw = in_district
    rating, _ = bad(rw, merchant=rw.shop, rater=rw.res2)
    with pytest.raises(NotAllowed):
        services.file_appeal(actor=rw.o1_user, rating=rating, reason="不是我")
    appeal = services.file_appeal(actor=rw.shop_owner, rating=rating, reason="顾客没来过")
    services.decide_appeal(actor=rw.admin, appeal=appeal, decision="dismissed", reason="有消费记录")
    rating.refresh_from_db()
    assert rating.state == "counted" and Tally.objects.get(merchant=rw.shop, dimension="").n == 1
    again = services.file_appeal(actor=rw.shop_owner, rating=rating, reason="补充材料")  # decided: may appeal again
    assert again.status == "pending"
    assert OutboxEvent.objects.filter(topic="ratings.appeal_decided", payload__status="dismissed").count() == 1


# --- 追评 and replies -----------------------------------------------------------------------------------

def test_one_follow_on_by_the_rater_after_the_callback(in_district):
    from modules.ratings.followup import services
    from modules.ratings.ledger.models import Rating, Tally

    rw = in_district
    rating, follow_up = bad(rw, official=rw.o1)
    with pytest.raises(Conflict):  # not called back yet
        services.add_follow_on(actor=rw.res1, rating=rating, level=4)
    call_back(rw, follow_up)
    with pytest.raises(NotAllowed):
        services.add_follow_on(actor=rw.res2, rating=rating, level=4)
    with pytest.raises(DomainError):
        services.add_follow_on(actor=rw.res1, rating=rating, level=6)
    new = services.add_follow_on(actor=rw.res1, rating=rating, level=4, comment="已经改进了")
    assert (new.follow_on_of, new.official, new.department, new.channel, new.state) == (
        rating, rw.o1, rw.civil, rating.channel, "counted")
    assert Tally.objects.get(official=rw.o1, dimension="").n == 2
    with pytest.raises(Conflict):
        services.add_follow_on(actor=rw.res1, rating=rating, level=5)
    with pytest.raises(Conflict):
        services.add_follow_on(actor=rw.res1, rating=new, level=5)  # a 追评 is not followed on
    assert Rating.objects.filter(follow_on_of=rating).count() == 1
    assert OutboxEvent.objects.filter(topic="ratings.rated", payload__rating_id=new.pk).count() == 1


def test_a_bad_follow_on_is_followed_up_too(in_district):
    from modules.ratings.followup import services
    from modules.ratings.followup.models import FollowUp

    rw = in_district
    rating, follow_up = bad(rw, merchant=rw.shop, rater=rw.res2)
    call_back(rw, follow_up)
    new = services.add_follow_on(actor=rw.res2, rating=rating, level=1, comment="还是没改")
    again = FollowUp.objects.get(rating=new)
    assert (again.unit_kind, again.unit_code, again.status) == ("grid", "G0101", "open")
    assert OutboxEvent.objects.filter(topic="ratings.bad_rating", payload__rating_id=new.pk).count() == 1


def test_replies_only_by_the_merchants_owner(in_district):
    from modules.ratings.followup import services
    from modules.ratings.followup.models import Reply

    rw = in_district
    rating = add_rating(merchant=rw.shop, level=2, rater=rw.res1)
    of_official = add_rating(official=rw.o1, level=2, rater=rw.res2)
    for actor, target in ((rw.res1, rating), (rw.admin, rating), (rw.o1_user, of_official),
                          (rw.shop_owner, of_official)):
        with pytest.raises(NotAllowed):
            services.save_reply(actor=actor, rating=target, text="谢谢")
    with pytest.raises(DomainError):
        services.save_reply(actor=rw.shop_owner, rating=rating, text="")
    services.save_reply(actor=rw.shop_owner, rating=rating, text="抱歉，已整改")
    services.save_reply(actor=rw.shop_owner, rating=rating, text="抱歉，已整改，欢迎再来")
    [reply] = Reply.objects.filter(rating=rating)
    assert reply.text == "抱歉，已整改，欢迎再来"
    assert AuditEntry.objects.filter(action="ratings.reply").count() == 2


# --- notifications ---------------------------------------------------------------------------------

def test_the_subject_hears_of_a_bad_rating_without_the_raters_identity(in_district):
    from notifications.models import Message

    rw = in_district
    rating = add_rating(official=rw.o1, level=1, rater=rw.res1, comment="办事拖拉")
    good = add_rating(official=rw.o1, level=5, rater=rw.res2)
    with transaction.atomic():
        for r in (rating, good):
            events.publish("ratings.rated", {"rating_id": r.pk, "subject_kind": "official", "official_id": rw.o1.pk,
                                             "merchant_id": None, "level": r.level, "channel": r.channel,
                                             "state": r.state})
    relay_pending()
    [told] = Message.objects.filter(recipient=rw.o1_user)
    assert told.kind == "ratings.bad_rating" and "办事拖拉" in told.body
    assert "rt_res1" not in told.body and "居民r1" not in told.body and str(rw.res1.pk) not in told.link
    assert told.link.endswith(f"/ratings/appeal/{rating.pk}/")
