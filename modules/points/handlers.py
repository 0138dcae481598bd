"""Outbox handlers of the points module (they run only in districts that have points on)."""
from __future__ import annotations

from kernel.events import handles
from modules.points.ledger import reports


@handles("cases.verified_report", module="points", name="points.verified_report")
def on_verified_report(payload: dict, event) -> None:
    """A verified report or praise: reporter +, reported household −, praised household + (idempotent
    per case and person, so a redelivered or repeated event posts nothing new)."""
    reports.award_verified_report(payload=payload)
