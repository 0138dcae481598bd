"""Writes of follow-ups: open one for a bad rating, record the callback, appeals, 追评, replies."""
from __future__ import annotations


def open_follow_up(*, rating, now=None):
    """Open the follow-up (回访) of a bad, real-name ``rating`` in the caller's transaction (the rating is
    saved). Idempotent: returns the rating's follow-up if it has one. The ledger calls this for every bad
    rating it saves, whatever the channel."""
    return None
