"""The models of the ratings app (label ``ratings``), kept in its sub-packages and imported here so
Django finds them: ``ledger`` (ratings and their monthly tallies), ``followup`` (callbacks, appeals,
merchants' replies) and ``reports`` (the yearly star merchants)."""
from modules.ratings.followup.models import Appeal, FollowUp, Reply
from modules.ratings.integrity.models import ScanRun
from modules.ratings.ledger.models import (
    BAD_MAX,
    COMMENT_MAX,
    LIVE_STATES,
    Channel,
    Level,
    Rating,
    State,
    SubjectKind,
    Tally,
)
from modules.ratings.reports.models import StarAward

__all__ = ["BAD_MAX", "COMMENT_MAX", "LIVE_STATES", "Appeal", "Channel", "FollowUp", "Level", "Rating", "Reply",
           "ScanRun", "StarAward", "State", "SubjectKind", "Tally"]
