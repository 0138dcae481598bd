"""The models of the points app (label ``points``), kept in its sub-packages and imported here so
Django finds them: ``ledger`` (rulebook, ledger, balances, compound score), ``committee`` (proposals,
votes, appeals), ``batches`` (award batches) and ``benefits`` (providers, tier benefits, honour list).
Import a model from its sub-package; this module re-exports them for Django, the migrations
(``_evidence_path``) and code that asks the app for its models."""
from modules.points.batches.models import Batch, BatchTarget
from modules.points.benefits.models import (
    Benefit,
    BenefitUse,
    HonourOptIn,
    LimitPeriod,
    Provider,
    ProviderKind,
    ProviderStaff,
)
from modules.points.committee.models import Appeal, Proposal, Vote
from modules.points.ledger.models import (
    EVIDENCE_MAX,
    KEY_MAX,
    REASON_MAX,
    AutoSource,
    Balance,
    BalanceKind,
    CapPeriod,
    CompoundScore,
    Direction,
    Entry,
    EntryQuerySet,
    LedgerIsAppendOnly,
    Origin,
    ReportFact,
    Rule,
    RuleVersion,
    SourceKind,
    _evidence_path,
)

__all__ = [
    "EVIDENCE_MAX", "KEY_MAX", "REASON_MAX", "Appeal", "AutoSource", "Balance", "BalanceKind", "Batch", "BatchTarget",
    "Benefit", "BenefitUse", "CapPeriod", "CompoundScore", "Direction", "Entry", "EntryQuerySet", "HonourOptIn",
    "LedgerIsAppendOnly", "LimitPeriod", "Origin", "Proposal", "Provider", "ProviderKind", "ProviderStaff",
    "ReportFact", "Rule", "RuleVersion", "SourceKind", "Vote", "_evidence_path",
]
