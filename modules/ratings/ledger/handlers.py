"""Outbox handlers of the ledger: a rated case becomes a rating (channel ``case``, 一事一评). They run
only in districts that have ratings on (``module="ratings"``)."""
from __future__ import annotations

from kernel.events import handles
from modules.ratings.ledger import services


@handles("cases.closed", module="ratings", name="ratings.ledger.case_rating")
def on_case_closed(payload, event) -> None:
    if payload.get("rating") in (None, ""):
        return
    services.record_case_rating(payload)
