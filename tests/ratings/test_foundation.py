"""The ledger's foundation: the state machine keeps the tallies equal to the counted ratings."""
from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from tests.ratings.conftest import add_rating


def test_state_changes_move_ratings_in_and_out_of_the_tallies(in_district):
    from modules.ratings.ledger import state as states
    from modules.ratings.ledger.models import Tally

    rw = in_district
    r = add_rating(official=rw.o1, level=2, scores={"duty": 1, "style": 3}, rater=rw.res1)
    overall = Tally.objects.get(official=rw.o1, dimension="")
    assert (overall.n, overall.total, overall.bad) == (1, 2, 1)
    assert Tally.objects.get(official=rw.o1, dimension="duty").bad == 1
    with transaction.atomic():
        states.change_state(rating=r, to="held", reasons=[{"rule": "burst", "detail": "x"}])
    assert Tally.objects.get(official=rw.o1, dimension="").n == 0
    with transaction.atomic():
        states.change_state(rating=r, to="counted", actor=rw.admin, note="genuine")
    assert Tally.objects.get(official=rw.o1, dimension="").n == 1
    r.refresh_from_db()
    assert r.decision_note == "genuine" and r.decided_by_id == rw.admin.pk
    with transaction.atomic():
        states.change_state(rating=r, to="removed", actor=rw.admin, note="appeal upheld")
    assert Tally.objects.get(official=rw.o1, dimension="").n == 0
    with pytest.raises(states.IllegalTransition), transaction.atomic():
        states.change_state(rating=r, to="counted")


def test_one_live_rating_per_rater_subject_and_period(in_district):
    rw = in_district
    add_rating(official=rw.o1, level=5, rater=rw.res1, period_key="2026-12")
    add_rating(official=rw.o2, level=5, rater=rw.res1, period_key="2026-12")  # another subject: fine
    add_rating(official=rw.o1, level=5, rater=rw.res1, period_key="2026-11")  # another period: fine
    with pytest.raises(IntegrityError), transaction.atomic():
        add_rating(official=rw.o1, level=3, rater=rw.res1, period_key="2026-12")
