"""The figures of ratings.reports (score_of, ranking, trend) equal what the counted ratings say when
computed straight from the Rating rows; held, rejected, removed and superseded ratings are left out and
explained; too few ratings are listed unranked; periods are whole months of Asia/Shanghai."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from tests.ratings.conftest import add_rating

TZ = dt.timezone(dt.timedelta(hours=8))


def at(y, m, d, hh=12, mm=0):
    return dt.datetime(y, m, d, hh, mm, tzinfo=TZ)


def set_config(admin, **changes):
    from kernel.services import update_module_config
    from modules.ratings.config import settings

    data = {**settings(), **changes}
    update_module_config(actor=admin, module_key="ratings", data=data, note="test")


def straight(ratings, dim=""):
    """n, average (2 dp) and bad share (4 dp) of the counted ratings, computed from the rows."""
    levels = [(r.level if not dim else r.scores.get(dim)) for r in ratings if r.state == "counted"]
    levels = [v for v in levels if v is not None]
    if not levels:
        return 0, None, None
    return (len(levels), (Decimal(sum(levels)) / len(levels)).quantize(Decimal("0.01")),
            (Decimal(sum(1 for v in levels if v <= 2)) / len(levels)).quantize(Decimal("0.0001")))


def change(rating, to, **kw):
    from modules.ratings.ledger import state as states

    with transaction.atomic():
        states.change_state(rating=rating, to=to, **kw)
    rating.refresh_from_db()
    return rating


def test_score_of_equals_the_counted_ratings_and_explains_what_is_left_out(in_district):
    from modules.ratings.reports.selectors import score_of

    rw = in_district
    made = []
    for i, (level, duty) in enumerate([(5, 5), (4, 3), (2, 1), (5, 4), (1, 2), (3, 3)]):
        made.append(add_rating(official=rw.o1, level=level, scores={"duty": duty, "style": level},
                               rater_key=f"k{i}", at=at(2026, 3, 1 + i)))
    held = add_rating(official=rw.o1, level=1, scores={"duty": 1}, rater_key="h1", at=at(2026, 3, 10), state="held",
                      hold_reasons=[{"rule": "burst", "detail": "30 in an hour"}])
    rejected = add_rating(official=rw.o1, level=1, rater_key="h2", at=at(2026, 3, 11))
    change(rejected, "held", reasons=[{"rule": "same_network", "detail": "x"}])
    change(rejected, "rejected", actor=rw.admin, note="not genuine")
    removed = change(made[4], "removed", actor=rw.admin, note="appeal upheld")
    superseded = change(made[1], "superseded")
    add_rating(official=rw.o1, level=5, rater_key="other-month", at=at(2026, 5, 1))  # outside the period
    add_rating(official=rw.o2, level=1, rater_key="k0", at=at(2026, 3, 2))  # another official
    ratings = [*made, held, rejected]
    assert removed.state == "removed" and superseded.state == "superseded"
    score = score_of(official=rw.o1, start=dt.date(2026, 3, 5), end=dt.date(2026, 4, 30))
    assert (score.start, score.end) == (dt.date(2026, 3, 1), dt.date(2026, 4, 1))
    assert (score.overall.n, score.overall.average, score.overall.bad_share) == straight(ratings)
    assert score.overall.n == 4
    by_key = {f.key: f for f in score.dimensions}
    for dim in ("duty", "style"):
        assert (by_key[dim].n, by_key[dim].average, by_key[dim].bad_share) == straight(ratings, dim)
    assert by_key["integrity"].n == 0 and by_key["integrity"].average is None
    e = score.explanation
    assert (e.counted, e.held, e.rejected, e.removed, e.superseded) == (4, 1, 1, 1, 1)
    assert {r["rule"]: (r["held"], r["rejected"]) for r in e.hold_rules} == {"burst": (1, 0), "same_network": (0, 1)}
    assert "short time" in e.hold_rules[0]["label"] or "network" in e.hold_rules[0]["label"]


def test_month_edges_are_those_of_asia_shanghai(in_district):
    from modules.ratings.reports.selectors import ranking, score_of

    rw = in_district
    # 2026-03-31 23:30 in Shanghai is 15:30 UTC: March. 2026-04-01 00:10 in Shanghai is 16:10 UTC on 31 March: April.
    add_rating(official=rw.o1, level=5, rater_key="a", at=dt.datetime(2026, 3, 31, 15, 30, tzinfo=dt.UTC))
    add_rating(official=rw.o1, level=1, rater_key="b", at=dt.datetime(2026, 3, 31, 16, 10, tzinfo=dt.UTC))
    march = score_of(official=rw.o1, start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 31))
    april = score_of(official=rw.o1, start=dt.date(2026, 4, 1), end=dt.date(2026, 4, 1))
    assert (march.overall.n, march.overall.average) == (1, Decimal("5.00"))
    assert (april.overall.n, april.overall.average) == (1, Decimal("1.00"))
    assert (march.explanation.counted, april.explanation.counted) == (1, 1)
    row = next(r for r in ranking(unit="official", start=dt.date(2026, 4, 1), end=dt.date(2026, 4, 1)).rows
               if r.id == rw.o1.pk)
    assert row.n == 1 and row.total == 1


def _spread(rw, official, levels, *, start_day=1, month=6, key="r", **extra):
    return [add_rating(official=official, level=lv, scores={"duty": lv}, rater_key=f"{key}{i}",
                       at=at(2026, month, start_day + i % 25), **extra) for i, lv in enumerate(levels)]


def test_official_ranking_equals_the_ratings_with_the_minimum_count(in_district):
    from modules.ratings.reports.selectors import ranking

    rw = in_district
    set_config(rw.admin, min_ratings_for_ranking=4)
    a = _spread(rw, rw.o1, [5, 5, 4, 4, 2], key="a")
    b = _spread(rw, rw.o2, [5, 5, 5, 3, 1, 4], key="b")
    c = _spread(rw, rw.o3, [5, 5, 5], key="c")  # three ratings: not ranked
    change(b[4], "removed", actor=rw.admin, note="appeal upheld")  # b: 5,5,5,3,4 -> 4.40
    add_rating(official=rw.o1, level=1, rater_key="held", at=at(2026, 6, 3), state="held")
    result = ranking(unit="official", dimension="", start=dt.date(2026, 6, 1), end=dt.date(2026, 6, 30))
    rows = {r.id: r for r in result.rows}
    for official, made in ((rw.o1, a), (rw.o2, b), (rw.o3, c)):
        n, average, share = straight(made)
        assert (rows[official.pk].n, rows[official.pk].average, rows[official.pk].bad_share) == (n, average, share)
    assert rows[rw.o2.pk].rank == 1 and rows[rw.o1.pk].rank == 2
    assert rows[rw.o3.pk].rank is None and rows[rw.o3.pk].n == 3
    assert [r.id for r in result.rows[:3]] == [rw.o2.pk, rw.o1.pk, rw.o3.pk]
    assert result.min_ratings == 4
    by_duty = ranking(unit="official", dimension="duty", start=dt.date(2026, 6, 1), end=dt.date(2026, 6, 1))
    assert {r.id: r.n for r in by_duty.rows}[rw.o2.pk] == 5
    # the department page's ranking: only civil affairs' people
    civil = ranking(unit="official", start=dt.date(2026, 6, 1), end=dt.date(2026, 6, 1), department=rw.civil)
    assert {r.id for r in civil.rows} == {rw.o1.pk, rw.o2.pk}


def test_ties_share_a_rank(in_district):
    from modules.ratings.reports.selectors import ranking

    rw = in_district
    set_config(rw.admin, min_ratings_for_ranking=1)
    _spread(rw, rw.o1, [5, 4], key="a")
    _spread(rw, rw.o2, [4, 5], key="b")
    _spread(rw, rw.o3, [5, 5, 5], key="c")
    rows = {r.id: r.rank for r in ranking(unit="official", start=dt.date(2026, 6, 1), end=dt.date(2026, 6, 1)).rows}
    assert (rows[rw.o3.pk], rows[rw.o1.pk], rows[rw.o2.pk]) == (1, 2, 2)


def test_department_grid_street_and_merchant_rankings(in_district):
    from modules.ratings.reports.selectors import ranking

    rw = in_district
    set_config(rw.admin, min_ratings_for_ranking=1)
    g1, g2, g3 = rw.places["g1"], rw.places["g2"], rw.places.get("g3")
    _spread(rw, rw.o1, [5, 3], key="a")  # civil, no grid (official code)
    add_rating(official=rw.o1, level=1, channel="case", case_id=101, rater_key="case:101", grid=g2,
               at=at(2026, 7, 9))  # a case rating counts for its grid (July: conftest's tally check sorts
    # tuples and cannot compare a grid with none in one month)
    _spread(rw, rw.o3, [4], key="c")  # urban
    shop = [add_rating(merchant=rw.shop, level=lv, scores={"attitude": lv}, rater_key=f"s{i}", at=at(2026, 6, 2))
            for i, lv in enumerate([5, 4, 2])]  # in g1
    stall = [add_rating(merchant=rw.stall, level=5, rater_key="t0", at=at(2026, 6, 2))]  # in g2
    june = dict(start=dt.date(2026, 6, 1), end=dt.date(2026, 7, 1))

    deps = {r.id: r for r in ranking(unit="department", **june).rows}
    assert (deps[rw.civil.pk].n, deps[rw.civil.pk].total) == (3, 9)
    assert (deps[rw.urban.pk].n, deps[rw.urban.pk].total) == (1, 4)
    assert deps[rw.urban.pk].rank == 1 and deps[rw.civil.pk].rank == 2

    grids = {r.id: r for r in ranking(unit="grid", **june).rows}
    assert (grids[g1.pk].n, grids[g1.pk].total, grids[g1.pk].bad) == (3, 11, 1)  # the shop
    assert (grids[g2.pk].n, grids[g2.pk].total, grids[g2.pk].bad) == (2, 6, 1)  # the stall and the case
    if g3 is not None:
        assert grids[g3.pk].n == 0 and grids[g3.pk].rank is None

    streets = {r.id: r for r in ranking(unit="street", **june).rows}
    street_of = {g.pk: g.community.street_id for g in (g1, g2)}
    expected: dict[int, list[int]] = {}
    for grid, (n, total) in ((g1, (3, 11)), (g2, (2, 6))):
        expected.setdefault(street_of[grid.pk], [0, 0])
        expected[street_of[grid.pk]][0] += n
        expected[street_of[grid.pk]][1] += total
    for street, (n, total) in expected.items():
        assert (streets[street].n, streets[street].total) == (n, total)

    merchants = {r.id: r for r in ranking(unit="merchant", **june).rows}
    assert (merchants[rw.shop.pk].n, merchants[rw.shop.pk].average) == straight(shop)[:2]
    assert (merchants[rw.stall.pk].n, merchants[rw.stall.pk].average) == straight(stall)[:2]
    attitude = {r.id: r.n for r in ranking(unit="merchant", dimension="attitude", **june).rows}
    assert attitude[rw.shop.pk] == 3 and attitude[rw.stall.pk] == 0
    by_channel = {r.id: r.n for r in ranking(unit="official", channel="case", **june).rows}
    assert by_channel[rw.o1.pk] == 1


def test_unknown_unit_is_refused(in_district):
    from kernel.errors import DomainError
    from modules.ratings.reports.selectors import ranking

    with pytest.raises(DomainError):
        ranking(unit="planet", start=dt.date(2026, 1, 1), end=dt.date(2026, 1, 1))


def test_trend_is_the_monthly_series(in_district):
    from modules.ratings.reports.selectors import trend

    rw = in_district
    _spread(rw, rw.o1, [5, 3], month=4, key="a")
    _spread(rw, rw.o1, [1], month=6, key="b")
    series = trend(unit="official", id=rw.o1.pk, dimension="", months=3, end=dt.date(2026, 6, 15))
    assert [(p.month, p.n, p.average) for p in series] == [
        (dt.date(2026, 4, 1), 2, Decimal("4.00")), (dt.date(2026, 5, 1), 0, None), (dt.date(2026, 6, 1), 1, Decimal("1.00"))]
    district = trend(unit="department", id=rw.civil.pk, dimension="duty", months=3, end=dt.date(2026, 6, 1))
    assert [p.n for p in district] == [2, 0, 1]


def test_periods_from_a_request():
    from kernel.errors import DomainError
    from modules.ratings.reports.selectors import period_from

    today = dt.date(2026, 12, 7)
    y = period_from({}, today=today)
    assert (y.start, y.end) == (dt.date(2026, 1, 1), dt.date(2026, 12, 1))
    q = period_from({"period": "quarter", "quarter": "2026-Q2"}, today=today)
    assert (q.start, q.end, q.last_day) == (dt.date(2026, 4, 1), dt.date(2026, 6, 1), dt.date(2026, 6, 30))
    m = period_from({"period": "month", "month": "2026-02"}, today=today)
    assert (m.start, m.end, m.last_day) == (dt.date(2026, 2, 1), dt.date(2026, 2, 1), dt.date(2026, 2, 28))
    c = period_from({"start": "2025-11", "end": "2026-02-15"}, today=today)
    assert (c.kind, c.start, c.end) == ("custom", dt.date(2025, 11, 1), dt.date(2026, 2, 1))
    for bad in ({"period": "week"}, {"start": "2026-13"}, {"start": "2026-05", "end": "2026-01"},
                {"period": "quarter", "quarter": "Q9"}):
        with pytest.raises(DomainError):
            period_from(bad, today=today)
    assert timezone.get_current_timezone_name() == "Asia/Shanghai"
