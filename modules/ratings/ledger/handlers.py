"""Outbox handlers of the ledger: a rated case becomes a rating (channel ``case``)."""
