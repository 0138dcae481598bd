"""Rating through the ledger's service: who may rate (both settings), nobody rates themself, one live
rating per rater, subject and period (a changed mind replaces, never adds), the district's dimensions,
snapshots of where it counts, the events, and held ratings out of the figures."""
from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from kernel.errors import Conflict, DomainError, NotAllowed
from kernel.models import AuditEntry, OutboxEvent
from kernel.services import update_module_config
from modules.catalog import catalog
from modules.ratings.ledger import services
from modules.ratings.ledger.models import Rating, Tally
from tests.conftest import make_user
from tests.ratings.conftest import add_rating

NOW = timezone.make_aware(dt.datetime(2026, 12, 7, 10, 0))


def rate(actor, *, now=NOW, **kw):
    kw.setdefault("level", 5)
    return services.submit_rating(actor=actor, now=now, **kw)


def configure(**changes):
    update_module_config(actor=None, module_key="ratings", data=catalog["ratings"].default_config() | changes)


def phone_user_of(rw):
    """A signed-in user with a verified phone and no household (back in the district's schema)."""
    user = make_user(rw.district, "rt_phone", "resident", phone="13800138000")
    connection.set_tenant(rw.district)
    return user


def overall(**subject) -> tuple:
    rows = Tally.objects.filter(dimension="", **subject)
    return sum(r.n for r in rows), sum(r.total for r in rows)


def test_a_bound_resident_rates_an_official_and_one_tap_rates_every_dimension(in_district):
    rw = in_district
    rating = rate(rw.res1, official=rw.o1, level=4, comment=" 办事快 ", device_id="dev-1", client_ip="10.1.2.3")
    assert rating.state == "counted" and rating.channel == "official_code" and rating.subject_kind == "official"
    assert rating.scores == {"duty": 4, "style": 4, "efficiency": 4, "fairness": 4, "integrity": 4}
    assert rating.comment == "办事快" and rating.period_key == "2026-12" and rating.rater_key == f"u:{rw.res1.pk}"
    assert rating.rater_household == rw.places["h1"] and rating.department == rw.civil and rating.grid is None
    assert rating.device_hash and rating.device_hash != "dev-1" and len(rating.network_hash) == 64
    same_net = rate(rw.res2, official=rw.o1, client_ip="10.1.2.200")
    other_net = rate(rw.res3, official=rw.o1, client_ip="10.1.3.1")
    assert same_net.network_hash == rating.network_hash != other_net.network_hash
    assert overall(official=rw.o1) == (3, 14)
    assert Tally.objects.get(official=rw.o1, dimension="duty").n == 3
    assert AuditEntry.objects.filter(action="ratings.rate", target_id=str(rating.pk)).count() == 1
    event = OutboxEvent.objects.get(topic="ratings.rated", payload__rating_id=rating.pk)
    assert event.payload == {"rating_id": rating.pk, "subject_kind": "official", "official_id": rw.o1.pk,
                             "merchant_id": None, "level": 4, "channel": "official_code", "state": "counted"}
    assert not OutboxEvent.objects.filter(topic="ratings.bad_rating").exists()


def test_who_may_rate_follows_the_district_setting(in_district):
    rw = in_district
    phone_user = phone_user_of(rw)
    with pytest.raises(NotAllowed) as refused:
        rate(phone_user, official=rw.o3)  # default: bound residents only
    assert refused.value.code == "not_a_rater" and refused.value.status == 403
    with pytest.raises(NotAllowed):
        rate(rw.stranger, official=rw.o3)
    with pytest.raises(NotAllowed) as anonymous:
        rate(None, official=rw.o3)
    assert anonymous.value.code == "not_signed_in"
    configure(raters="verified_phone")
    rating = rate(phone_user, official=rw.o3)
    assert rating.rater_household is None and rating.rater_phone_index == phone_user.phone_index
    with pytest.raises(NotAllowed):
        rate(rw.stranger, official=rw.o3)  # signed in, but no verified phone
    assert Rating.objects.filter(official=rw.o3).count() == 1


def test_nobody_rates_themself_and_an_inactive_subject_is_not_rated(in_district):
    rw = in_district
    with pytest.raises(NotAllowed) as own:
        rate(rw.o1_user, official=rw.o1)
    assert own.value.code == "own_rating"
    with pytest.raises(NotAllowed):
        rate(rw.shop_owner, merchant=rw.shop)
    rw.o3.active = False
    rw.o3.save(update_fields=["active"])
    with pytest.raises(Conflict):
        rate(rw.res1, official=rw.o3)
    assert not Rating.objects.exists()


def test_levels_scores_and_comments_are_checked(in_district):
    rw = in_district
    for bad in (0, 6, "5", 4.5, True, None):
        with pytest.raises(DomainError) as err:
            rate(rw.res1, official=rw.o1, level=bad)
        assert "level" in err.value.fields and err.value.status == 400
    with pytest.raises(DomainError) as unknown:
        rate(rw.res1, official=rw.o1, scores={"duty": 5, "taste": 3})
    assert "taste" in unknown.value.fields["scores"][0]
    with pytest.raises(DomainError) as bad_value:
        rate(rw.res1, official=rw.o1, scores={"duty": 9})
    assert "scores.duty" in bad_value.value.fields
    with pytest.raises(DomainError) as merchant_keys:  # an official's dimension is not a merchant's
        rate(rw.res1, merchant=rw.shop, scores={"duty": 5})
    assert "scores" in merchant_keys.value.fields
    with pytest.raises(DomainError) as long_comment:
        rate(rw.res1, official=rw.o1, comment="字" * 501)
    assert "comment" in long_comment.value.fields
    assert not Rating.objects.exists()
    rating = rate(rw.res1, merchant=rw.shop, level=3, scores={"attitude": 1})
    assert rating.scores == {"attitude": 1, "environment": 3, "quality": 3}


def test_a_changed_mind_replaces_never_adds(in_district):
    rw = in_district
    first = rate(rw.res1, official=rw.o1, level=5)
    second = rate(rw.res1, official=rw.o1, level=2, now=NOW + dt.timedelta(days=3))
    first.refresh_from_db()
    assert first.state == "superseded" and second.replaces == first and second.state == "counted"
    assert Rating.objects.filter(official=rw.o1, state__in=["counted", "held"]).count() == 1
    assert overall(official=rw.o1) == (1, 2)
    assert AuditEntry.objects.filter(action="ratings.replace", target_id=str(second.pk)).count() == 1
    next_month = rate(rw.res1, official=rw.o1, level=4, now=NOW + dt.timedelta(days=30))
    assert next_month.replaces is None and next_month.period_key == "2027-01"
    assert overall(official=rw.o1) == (2, 6)
    configure(period="year")
    yearly = rate(rw.res2, official=rw.o1, level=3)
    assert yearly.period_key == "2026" and rate(rw.res2, official=rw.o1, level=5,
                                                now=NOW - dt.timedelta(days=200)).replaces == yearly


def test_a_held_rating_is_out_of_the_figures_and_a_new_rating_replaces_it(in_district):
    rw = in_district
    held = add_rating(official=rw.o2, level=1, rater=rw.res1, state="held", period_key="2026-12",
                      hold_reasons=[{"rule": "burst", "detail": "30 in an hour"}], at=NOW)
    assert overall(official=rw.o2) == (0, 0)
    again = rate(rw.res1, official=rw.o2, level=4)
    held.refresh_from_db()
    assert held.state == "superseded" and again.replaces == held and again.state == "counted"
    assert overall(official=rw.o2) == (1, 4)


def test_a_bad_merchant_rating_publishes_the_follow_up_event_with_the_merchants_place(in_district):
    rw = in_district
    rating = rate(rw.res2, merchant=rw.shop, level=1, comment="态度差")
    g1 = rw.places["g1"]
    assert (rating.grid, rating.community, rating.street) == (g1, g1.community, g1.community.street)
    assert rating.department is None and rating.channel == "merchant_code"
    event = OutboxEvent.objects.get(topic="ratings.bad_rating")
    assert event.payload == {
        "rating_id": rating.pk, "subject_kind": "merchant", "subject_name": "郑记面馆", "official_id": None,
        "merchant_id": rw.shop.pk, "department_code": "", "grid_id": g1.pk, "level": 1, "comment": "态度差",
        "rater_id": rw.res2.pk, "due_working_days": 15}
    stall = rate(rw.res1, merchant=rw.stall, level=5, channel="on_site")
    assert stall.channel == "on_site" and stall.grid == rw.places["g2"]
    with pytest.raises(DomainError):
        rate(rw.res1, merchant=rw.stall, channel="official_code")


def test_a_bad_official_rating_names_the_department(in_district):
    rw = in_district
    configure(follow_up_working_days=10)
    rating = rate(rw.res3, official=rw.o3, level=2)
    payload = OutboxEvent.objects.get(topic="ratings.bad_rating").payload
    assert payload["department_code"] == "urban-mgmt" and payload["grid_id"] is None
    assert payload["due_working_days"] == 10 and payload["rating_id"] == rating.pk


def test_an_idempotency_key_returns_the_first_rating(in_district):
    from kernel import idempotency

    rw = in_district
    first = rate(rw.res1, official=rw.o1, level=4, idempotency_key="tap-1")
    again = rate(rw.res1, official=rw.o1, level=4, idempotency_key="tap-1")
    assert again.pk == first.pk and idempotency.created(first) and not idempotency.created(again)
    with pytest.raises(Conflict) as reused:
        rate(rw.res1, official=rw.o1, level=2, idempotency_key="tap-1")
    assert reused.value.code == "idempotency_key_reused"
    assert Rating.objects.count() == 1 and OutboxEvent.objects.filter(topic="ratings.rated").count() == 1
