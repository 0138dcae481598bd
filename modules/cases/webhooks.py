"""Signed status webhooks to integrations (hotline, mailbox)."""
from __future__ import annotations


def deliver_due() -> int:
    return 0
