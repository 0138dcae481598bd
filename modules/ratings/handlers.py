"""Outbox handlers of the ratings module (they run only in districts that have ratings on): each
sub-package registers its own on import."""
from modules.ratings import notifications  # noqa: F401
from modules.ratings.followup import handlers as followup_handlers  # noqa: F401
from modules.ratings.ledger import handlers as ledger_handlers  # noqa: F401
