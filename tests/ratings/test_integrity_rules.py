"""The anti-gaming rules, one by one: each fires at its threshold and not below, both when a new rating
is checked (``check_new`` on an unsaved rating) and when the periodic pass runs over the ledger
(``scan_all`` over ratings put in with ``add_rating``)."""
from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.utils import timezone

from tests.ratings.conftest import add_rating, id_number

_keys = itertools.count(1)


def key() -> str:
    return f"p:test-{next(_keys)}"


def set_rules(**integrity) -> None:
    from kernel.services import update_module_config

    update_module_config(actor=None, module_key="ratings", data={"integrity": integrity})


def unsaved(*, official=None, merchant=None, level: int = 5, rater=None, rater_key: str | None = None,
            household=None, device_hash: str = "", network_hash: str = "", at: dt.datetime | None = None):
    """A new rating as the ledger hands it to ``check_new``: every field set, not saved."""
    from modules.ratings.ledger.models import Rating
    from modules.ratings.ledger.periods import period_key

    at = at or timezone.now()
    kind = "official" if official is not None else "merchant"
    grid = merchant.grid if merchant is not None else None
    return Rating(subject_kind=kind, official=official, merchant=merchant,
                  department=official.department if official is not None else None, grid=grid,
                  community=grid.community if grid else None, street=grid.community.street if grid else None,
                  channel=f"{kind}_code", level=level, scores={}, rater=rater,
                  rater_key=rater_key or (f"u:{rater.pk}" if rater is not None else key()),
                  rater_household=household, device_hash=device_hash, network_hash=network_hash,
                  period_key=period_key(at, "month"), state="counted", created_at=at)


def rules_of(findings: list[dict]) -> list[str]:
    return [f["rule"] for f in findings]


def scan():
    from modules.ratings.integrity.scan import scan_all

    return scan_all()


def state_of(rating) -> str:
    rating.refresh_from_db()
    return rating.state


# --- burst ----------------------------------------------------------------------------------------------

def test_burst_fires_at_the_count_within_the_window(in_district):
    from modules.ratings.integrity.checks import check_new

    rw = in_district
    set_rules(burst_count=3, burst_minutes=60)
    now = timezone.now()
    add_rating(official=rw.o1, rater_key=key(), at=now - dt.timedelta(minutes=90))  # outside the window
    add_rating(official=rw.o1, rater_key=key(), at=now - dt.timedelta(minutes=30))
    add_rating(official=rw.o1, rater_key=key(), at=now - dt.timedelta(minutes=20))
    add_rating(official=rw.o2, rater_key=key(), at=now - dt.timedelta(minutes=10))  # another subject
    assert check_new(unsaved(official=rw.o1, at=now)) == []  # 2 before it: below 3
    third = add_rating(official=rw.o1, rater_key=key(), at=now - dt.timedelta(minutes=10))
    found = check_new(unsaved(official=rw.o1, at=now))
    assert rules_of(found) == ["burst"]
    assert found[0]["numbers"] == {"before": 3, "minutes": 60, "limit": 3}
    assert "3" in found[0]["detail"]

    # the pass: the ledger as it is holds nothing (each had at most 2 before it) ...
    assert scan()["burst"] == 0
    # ... a fourth within the hour is what the rule holds
    fourth = add_rating(official=rw.o1, rater_key=key(), at=now - dt.timedelta(minutes=5))
    result = scan()
    assert result["burst"] == 1 and result["held"] == 1
    assert state_of(fourth) == "held" and state_of(third) == "counted"
    fourth.refresh_from_db()
    assert fourth.hold_reasons[0]["rule"] == "burst" and fourth.hold_reasons[0]["by"] == "scan"


# --- one household, device or network -------------------------------------------------------------------

@pytest.mark.parametrize("rule", ["same_household", "same_device", "same_network"])
def test_same_source_lets_the_most_count_and_holds_the_next(in_district, rule):
    from modules.ratings.integrity.checks import check_new

    rw = in_district
    set_rules(same_source_max=2)
    h1, h2 = rw.places["h1"], rw.places["h2"]
    same = {"same_household": {"household": h1}, "same_device": {"device_hash": "dev-a"},
            "same_network": {"network_hash": "net-a"}}[rule]
    other = {"same_household": {"household": h2}, "same_device": {"device_hash": "dev-b"},
             "same_network": {"network_hash": "net-b"}}[rule]
    now = timezone.now()
    first = add_rating(official=rw.o1, rater_key=key(), at=now - dt.timedelta(days=1), **same)
    add_rating(official=rw.o1, rater_key=key(), at=now - dt.timedelta(hours=5), **other)  # another source
    add_rating(official=rw.o2, rater_key=key(), at=now - dt.timedelta(hours=4), **same)  # another subject
    # one other rater from the source: the second may count (at most 2)
    assert check_new(unsaved(official=rw.o1, rater_key=key(), at=now, **same)) == []
    # the same rater changing their mind is not another rater
    assert check_new(unsaved(official=rw.o1, rater_key=first.rater_key, at=now, **same)) == []
    second = add_rating(official=rw.o1, rater_key=key(), at=now - dt.timedelta(hours=3), **same)
    found = check_new(unsaved(official=rw.o1, rater_key=key(), at=now, **same))
    assert rules_of(found) == [rule]
    assert found[0]["numbers"]["others"] == 2 and found[0]["numbers"]["limit"] == 2

    assert scan()[rule] == 0
    third = add_rating(official=rw.o1, rater_key=key(), at=now - dt.timedelta(hours=1), **same)
    result = scan()
    assert result[rule] == 1 and result["held"] == 1
    assert [state_of(r) for r in (first, second, third)] == ["counted", "counted", "held"]


def test_a_blank_device_or_network_is_no_source(in_district):
    from modules.ratings.integrity.checks import check_new

    rw = in_district
    set_rules(same_source_max=1)
    add_rating(official=rw.o1, rater_key=key())
    add_rating(official=rw.o1, rater_key=key())
    assert check_new(unsaved(official=rw.o1)) == []
    assert scan()["held"] == 0


# --- colleagues and family ------------------------------------------------------------------------------

def test_a_colleague_is_held_and_a_resident_is_not(in_district):
    from modules.ratings.integrity.checks import check_new

    rw = in_district
    assert check_new(unsaved(official=rw.o1, rater=rw.res1)) == []
    assert check_new(unsaved(official=rw.o3, rater=rw.o2_user)) == []  # another department
    found = check_new(unsaved(official=rw.o1, rater=rw.o2_user))
    assert rules_of(found) == ["colleague"]
    assert rules_of(check_new(unsaved(official=rw.o1, rater=rw.o1_user))) == ["colleague"]  # themselves
    set_rules(flag_colleagues=False)
    assert check_new(unsaved(official=rw.o1, rater=rw.o2_user)) == []
    set_rules(flag_colleagues=True)

    kept = add_rating(official=rw.o1, rater=rw.res1)
    colleague = add_rating(official=rw.o1, rater=rw.o2_user)
    result = scan()
    assert result["colleague"] == 1 and result["held"] == 1
    assert state_of(colleague) == "held" and state_of(kept) == "counted"


def _make_o1_live_in_h1(rw):
    from modules.registry import services as registry

    r = registry.register_resident(actor=None, name="钱进", id_number=id_number(9), phone="13912345699",
                                   household=rw.places["h1"], relation="member")
    registry.link_account(actor=None, resident=r, user=rw.o1_user)


def test_family_is_held(in_district):
    from modules.ratings.integrity.checks import check_new

    rw = in_district
    assert check_new(unsaved(official=rw.o1, rater=rw.res1)) == []  # o1 lives nowhere yet
    _make_o1_live_in_h1(rw)
    assert rules_of(check_new(unsaved(official=rw.o1, rater=rw.res1))) == ["family"]  # res1 heads h1
    assert check_new(unsaved(official=rw.o1, rater=rw.res2)) == []
    # a phone rater whose rating records household h1
    assert rules_of(check_new(unsaved(official=rw.o1, household=rw.places["h1"]))) == ["family"]
    # a merchant's owner rating their own shop
    found = check_new(unsaved(merchant=rw.shop, rater=rw.shop_owner))
    assert rules_of(found) == ["family"] and found[0]["variant"] == "family_owner"
    assert check_new(unsaved(merchant=rw.shop, rater=rw.res2)) == []

    family = add_rating(official=rw.o1, rater=rw.res1b)
    by_phone = add_rating(official=rw.o1, rater_key=key(), household=rw.places["h1"])
    stranger = add_rating(official=rw.o1, rater=rw.res2, household=rw.places["h2"])
    owner = add_rating(merchant=rw.shop, rater=rw.shop_owner)
    customer = add_rating(merchant=rw.shop, rater=rw.res3)
    result = scan()
    assert result["family"] == 3 and result["held"] == 3
    assert [state_of(r) for r in (family, by_phone, stranger, owner, customer)] == [
        "held", "held", "counted", "held", "counted"]


# --- swing ----------------------------------------------------------------------------------------------

def _history(rw, levels, start, official=None):
    return [add_rating(official=official or rw.o1, level=level, rater_key=key(), at=start + dt.timedelta(hours=i))
            for i, level in enumerate(levels)]


def test_swing_fires_at_the_drop_with_enough_history(in_district):
    from modules.ratings.integrity.checks import check_new

    rw = in_district
    set_rules(swing_window=4, swing_drop=1.5, swing_history_min=5)
    start = timezone.now() - dt.timedelta(days=2)
    _history(rw, [5, 5, 5, 5, 5, 4, 4, 3], start)
    # window [4, 4, 3, 3] = 3.5 against 5.0: a drop of 1.5, at the limit
    found = check_new(unsaved(official=rw.o1, level=3))
    assert rules_of(found) == ["swing"]
    assert found[0]["numbers"]["recent"] == 3.5 and found[0]["numbers"]["baseline"] == 5.0
    # [4, 4, 3, 4] = 3.75: a drop of 1.25, below it
    assert check_new(unsaved(official=rw.o1, level=4)) == []


def test_swing_needs_the_history(in_district):
    from modules.ratings.integrity.checks import check_new

    rw = in_district
    set_rules(swing_window=4, swing_drop=1.5, swing_history_min=5)
    _history(rw, [5, 5, 5, 5, 4, 4, 3], timezone.now() - dt.timedelta(days=2))  # 4 before the window
    assert check_new(unsaved(official=rw.o1, level=1)) == []


def test_a_good_rating_is_never_held_for_the_bad_before_it(in_district):
    from modules.ratings.integrity.checks import check_new

    rw = in_district
    set_rules(swing_window=3, swing_drop=0.5, swing_history_min=5)
    _history(rw, [5, 5, 5, 5, 5, 1, 1], timezone.now() - dt.timedelta(days=2))
    assert check_new(unsaved(official=rw.o1, level=5)) == []
    assert rules_of(check_new(unsaved(official=rw.o1, level=2))) == ["swing"]


def test_the_pass_holds_the_swing(in_district):
    rw = in_district
    set_rules(swing_window=4, swing_drop=1.5, swing_history_min=5)
    start = timezone.now() - dt.timedelta(days=2)
    _history(rw, [5, 5, 5, 5, 5, 4, 4, 3, 4], start, official=rw.o1)  # last window [4, 4, 3, 4]: 1.25 below
    held = _history(rw, [5, 5, 5, 5, 5, 4, 4, 3, 3], start, official=rw.o2)[-1]  # [4, 4, 3, 3]: 1.5 below
    result = scan()
    assert result["swing"] == 1 and result["held"] == 1
    held.refresh_from_db()
    assert held.state == "held" and held.hold_reasons[0]["numbers"]["drop"] == 1.5


# --- the pass and reviewers' decisions ------------------------------------------------------------------

def test_the_pass_never_holds_a_released_rating_again(in_district):
    from modules.ratings.integrity import services

    rw = in_district
    colleague = add_rating(official=rw.o1, rater=rw.o2_user)
    assert scan()["held"] == 1
    colleague.refresh_from_db()
    services.release(actor=rw.admin, rating=colleague, note="他们确实来办过事")
    assert state_of(colleague) == "counted"
    result = scan()
    assert result["held"] == 0 and result["colleague"] == 0
    assert state_of(colleague) == "counted"


def test_held_ratings_are_out_of_every_figure_until_released(in_district):
    from modules.ratings.integrity import services
    from modules.ratings.ledger.models import Tally

    rw = in_district
    add_rating(official=rw.o1, level=5, scores={"duty": 5}, rater=rw.res1)
    colleague = add_rating(official=rw.o1, level=1, scores={"duty": 1}, rater=rw.o2_user)

    def figures():
        overall = Tally.objects.filter(official=rw.o1, dimension="")
        duty = Tally.objects.filter(official=rw.o1, dimension="duty")
        return (sum(t.n for t in overall), sum(t.total for t in overall), sum(t.bad for t in overall),
                sum(t.total for t in duty))

    assert figures() == (2, 6, 1, 6)
    scan()
    assert figures() == (1, 5, 0, 5)  # the held one is out: count, sum, bad and the dimension
    colleague.refresh_from_db()
    services.release(actor=rw.admin, rating=colleague, note="复核属实")
    assert figures() == (2, 6, 1, 6)


def test_the_pass_records_its_audit_entry(in_district):
    from kernel.models import AuditEntry

    rw = in_district
    add_rating(official=rw.o1, rater=rw.o2_user)
    scan()
    entry = AuditEntry.objects.filter(action="ratings.scan").latest("id")
    assert entry.after["held"] == 1 and entry.after["colleague"] == 1
