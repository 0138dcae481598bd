"""Outbox handlers of the points module (they run only in districts that have points on)."""
from __future__ import annotations

from kernel.events import handles
from modules.points import notify  # noqa: F401 - registers its handlers on import
from modules.points.ledger import reports, scores


@handles("cases.verified_report", module="points", name="points.verified_report")
def on_verified_report(payload: dict, event) -> None:
    """A verified report or praise: reporter +, reported household −, praised household + (idempotent
    per case and person, so a redelivered or repeated event posts nothing new)."""
    reports.award_verified_report(payload=payload)


@handles("points.batch_done", module="points", name="points.batch_done.scores")
def on_batch_done(payload: dict, event) -> None:
    """A finished batch moved many balances: the compound scores are recomputed soon."""
    scores.refresh_scores_soon()
