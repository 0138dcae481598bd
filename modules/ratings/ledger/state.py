"""The one way a rating changes state (see ``ledger.models`` for the states). Called inside the
caller's transaction, with the rating locked (``select_for_update``); keeps the tallies right. The
caller records the audit entry and publishes its event: it knows why."""
from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from modules.ratings.ledger import tally
from modules.ratings.ledger.models import Rating, State

ALLOWED = {
    State.COUNTED: {State.HELD, State.REMOVED, State.SUPERSEDED},
    State.HELD: {State.COUNTED, State.REJECTED, State.SUPERSEDED},
    State.REJECTED: {State.COUNTED},  # a reviewer may change their mind, with a reason
    State.REMOVED: set(),
    State.SUPERSEDED: set(),
}


class IllegalTransition(Exception):
    pass


def change_state(*, rating: Rating, to: str, actor=None, note: str = "", reasons: list | None = None,
                 now=None) -> Rating:
    """Move ``rating`` to ``to``. ``reasons`` (held): the rules' findings, added to ``hold_reasons``.
    A reviewer's decision (counted from held, rejected, removed) records who, when and ``note``."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("change_state must run inside the service's transaction")
    to = State(to)
    before = State(rating.state)
    if to == before:
        return rating
    if to not in ALLOWED[before]:
        raise IllegalTransition(f"a {before} rating cannot become {to}")
    if before == State.COUNTED:
        tally.add(rating, -1)
    if to == State.COUNTED:
        tally.add(rating, +1)
    rating.state = to
    fields = ["state"]
    if to == State.HELD and reasons:
        rating.hold_reasons = [*(rating.hold_reasons or []), *reasons]
        fields.append("hold_reasons")
    if before in (State.HELD, State.REJECTED) or to in (State.REJECTED, State.REMOVED):
        rating.decided_at = now or timezone.now()
        rating.decided_by = actor if getattr(actor, "pk", None) else None
        rating.decision_note = (note or "")[:500]
        fields += ["decided_at", "decided_by", "decision_note"]
    rating.save(update_fields=fields)
    return rating


def insert_counted(rating: Rating) -> None:
    """A new rating saved as ``counted`` enters the tallies (call right after saving it)."""
    if rating.state == State.COUNTED:
        tally.add(rating, +1)
