"""Outbox handlers of the cases module: webhooks to integrations, follow-ups of bad ratings, messages
to reporters and workers (notifications)."""
from modules.cases import followups, notifications, rating_follow_ups  # noqa: F401 - they register their handlers on import
from modules.cases.intake import webhooks  # noqa: F401 - registers its handlers on import
