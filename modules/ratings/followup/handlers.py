"""Outbox handlers of follow-ups: the follow-up case the cases module opened for a bad rating."""
