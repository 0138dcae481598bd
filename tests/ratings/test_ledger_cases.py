"""一事一评: a case's confirm-and-rate becomes a ``case`` rating through the outbox (the real relay):
for the handling official and their department, or the handling unit; counted in the case's grid.
Redelivery adds nothing; a case reopened and rated again supersedes its earlier rating; with ratings
switched off, the handler does nothing."""
from __future__ import annotations

import datetime as dt

from django.utils import timezone

from kernel.events import relay_pending
from kernel.models import OutboxEvent
from modules.cases import services as cases
from modules.ratings.ledger import handlers
from modules.ratings.ledger.models import Rating, Tally
from modules.registry import services as registry

T0 = timezone.make_aware(dt.datetime(2026, 12, 7, 9, 0))


def resolved_case(rw, *, handler_official: bool = True):
    """A snap report of res1 at h1 (grid G0101), handled by the grid's worker gw1 and resolved."""
    g1 = rw.places["g1"]
    g1.worker = rw.gw1
    g1.save(update_fields=["worker"])
    official = None
    if handler_official:
        official = registry.create_official(actor=None, name="吴网格", department=rw.urban, post="网格员", user=rw.gw1)
    case = cases.submit_case(actor=rw.res1, channel="snap", category="corridor_clutter", title="楼道堆物",
                             contact="13912345601", household=rw.places["h1"], now=T0)
    handler = case.assignee or rw.staff
    cases.accept_case(actor=handler, case=case, now=T0)
    case = cases.resolve_case(actor=handler, case=case, result="已清理", now=T0)
    return case, handler, official


def test_a_rated_case_counts_for_the_handling_official_their_department_and_grid(in_district):
    rw = in_district
    case, handler, official = resolved_case(rw)
    assert handler == rw.gw1
    cases.confirm_and_rate(actor=rw.res1, case=case, rating=2, comment="太慢", now=T0 + dt.timedelta(hours=5))
    relay_pending()
    rating = Rating.objects.get(case_id=case.pk)
    g1 = rw.places["g1"]
    assert (rating.subject_kind, rating.official, rating.department, rating.grid, rating.community) == (
        "official", official, rw.urban, g1, g1.community)
    assert (rating.channel, rating.level, rating.comment, rating.rater, rating.rater_key) == (
        "case", 2, "太慢", rw.res1, f"case:{case.pk}")
    assert rating.case_ref == case.ref and rating.created_at == T0 + dt.timedelta(hours=5)
    assert rating.period_key == "2026-12" and rating.state == "counted" and rating.scores == {}
    assert rating.rater_household == rw.places["h1"]
    assert Tally.objects.get(official=official, dimension="", channel="case").n == 1
    assert OutboxEvent.objects.filter(topic="ratings.rated", payload__rating_id=rating.pk).count() == 1
    # the cases module opens its own follow-up case for a case rating: no ratings.bad_rating
    assert not OutboxEvent.objects.filter(topic="ratings.bad_rating").exists()
    event = OutboxEvent.objects.get(topic="cases.closed", payload__case_id=case.pk)
    handlers.on_case_closed(event.payload, event)  # delivered again: nothing more
    relay_pending()
    assert Rating.objects.filter(case_id=case.pk).count() == 1


def test_a_case_handled_by_someone_without_an_official_record_rates_the_unit(in_district):
    rw = in_district
    case, _handler, _official = resolved_case(rw, handler_official=False)
    cases.confirm_and_rate(actor=rw.res1, case=case, rating=5, now=T0 + dt.timedelta(hours=1))
    relay_pending()
    rating = Rating.objects.get(case_id=case.pk)
    assert rating.subject_kind == "unit" and rating.official is None and rating.grid == rw.places["g1"]
    assert Tally.objects.get(subject_kind="unit", grid=rw.places["g1"], dimension="").total == 5


def test_a_reopened_case_rated_again_supersedes_its_earlier_rating(in_district):
    rw = in_district
    case, handler, official = resolved_case(rw)
    cases.confirm_and_rate(actor=rw.res1, case=case, rating=1, now=T0 + dt.timedelta(hours=1))
    relay_pending()
    cases.reopen_case(actor=rw.res1, case=case, reason="又堆上了", now=T0 + dt.timedelta(hours=2))
    case.refresh_from_db()
    cases.accept_case(actor=handler, case=case, now=T0 + dt.timedelta(hours=2))
    cases.resolve_case(actor=handler, case=case, result="再次清理", now=T0 + dt.timedelta(hours=3))
    case.refresh_from_db()
    cases.confirm_and_rate(actor=rw.res1, case=case, rating=4, now=T0 + dt.timedelta(hours=4))
    relay_pending()
    old, new = Rating.objects.filter(case_id=case.pk).order_by("created_at")
    assert (old.state, old.level, new.state, new.level, new.replaces) == ("superseded", 1, "counted", 4, old)
    tally = Tally.objects.get(official=official, dimension="")
    assert (tally.n, tally.total, tally.bad) == (1, 4, 0)


def test_an_unrated_close_is_no_rating(in_district):
    rw = in_district
    handlers.on_case_closed({"case_id": 999, "ref": "X", "rating": None, "auto": True}, None)
    assert not Rating.objects.exists() and rw


def test_with_ratings_off_a_rated_case_makes_no_rating(in_district):
    rw = in_district
    case, _handler, _official = resolved_case(rw)
    rw.district.modules = [m for m in rw.district.modules if m != "ratings"]
    assert not rw.district.has_module("ratings")
    cases.confirm_and_rate(actor=rw.res1, case=case, rating=1, now=T0 + dt.timedelta(hours=1))
    relay_pending()
    assert not Rating.objects.exists()
    event = OutboxEvent.objects.get(topic="cases.closed", payload__case_id=case.pk)
    assert event.delivered_at is not None  # delivered: the ratings handler was skipped, not failed


def test_a_case_rating_removed_on_appeal_stays_and_the_case_rated_again_counts_anew(in_district):
    from modules.ratings.followup import services as followup

    rw = in_district
    case, handler, official = resolved_case(rw)
    cases.confirm_and_rate(actor=rw.res1, case=case, rating=1, comment="没解决", now=T0 + dt.timedelta(hours=5))
    relay_pending()
    first = Rating.objects.get(case_id=case.pk)
    appeal = followup.file_appeal(actor=rw.gw1, rating=first, reason="已按规定办理，评价与事实不符。")
    followup.decide_appeal(actor=rw.admin, appeal=appeal, decision="upheld", reason="经核实，已办结，评价不计入。")
    first.refresh_from_db()
    assert first.state == "removed"
    cases.reopen_case(actor=rw.res1, case=case, reason="又堆上了", now=T0 + dt.timedelta(days=1))
    case.refresh_from_db()
    cases.accept_case(actor=handler, case=case, now=T0 + dt.timedelta(days=1, hours=1))
    cases.resolve_case(actor=handler, case=case, result="再次清理", now=T0 + dt.timedelta(days=1, hours=2))
    case.refresh_from_db()
    cases.confirm_and_rate(actor=rw.res1, case=case, rating=4, now=T0 + dt.timedelta(days=1, hours=3))
    relay_pending()
    first.refresh_from_db()
    second = Rating.objects.get(case_id=case.pk, state="counted")
    assert first.state == "removed" and second.level == 4 and second.replaces is None
    assert Tally.objects.get(official=official, dimension="", channel="case").n == 1
