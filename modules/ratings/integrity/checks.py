"""The anti-gaming rules, asked of every new rating before it counts (``check_new``) and run over the
whole ledger by the periodic pass (``integrity.scan``).

``check_new(rating)`` gets the unsaved rating (all its fields set, ``pk`` None) inside the submitting
transaction and returns the findings, ``[{"rule": key, "detail": words for the reviewer}]``; a rating
with findings is saved ``held`` with them as ``hold_reasons``. An empty list: it counts."""
from __future__ import annotations

from modules.ratings.ledger.models import Rating


def check_new(rating: Rating) -> list[dict]:
    return []
