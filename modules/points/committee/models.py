"""Models of the points committee: proposals (maker–checker, a quorum), votes, and residents' appeals."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from modules.points.ledger.models import (
    KEY_MAX,
    REASON_MAX,
    Entry,
    Rule,
    RuleVersion,
    SourceKind,
    _evidence_path,
)
from modules.registry.models import Resident


class Proposal(models.Model):
    """An award or deduction put to the points committee: for one resident, or a whole batch."""

    class Status(models.TextChoices):
        PENDING = "pending", _("waiting for the committee")
        APPROVED = "approved", _("approved")
        REJECTED = "rejected", _("rejected")
        WITHDRAWN = "withdrawn", _("withdrawn")

    class Kind(models.TextChoices):
        SINGLE = "single", _("one resident")
        BATCH = "batch", _("batch")

    kind = models.CharField(max_length=6, choices=Kind.choices)
    rule = models.ForeignKey(Rule, on_delete=models.PROTECT, related_name="+")
    rule_version = models.ForeignKey(RuleVersion, on_delete=models.PROTECT, related_name="+",
                                     help_text="the version in force when proposed")
    resident = models.ForeignKey(Resident, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    batch = models.OneToOneField("Batch", null=True, blank=True, on_delete=models.PROTECT, related_name="proposal")
    points = models.IntegerField(help_text="signed, per resident")
    occurred_on = models.DateField()
    reason = models.CharField(max_length=REASON_MAX)
    evidence = models.TextField(blank=True)
    evidence_file = models.FileField(upload_to=_evidence_path, blank=True, max_length=200)
    source_kind = models.CharField(max_length=10, choices=SourceKind.choices, default=SourceKind.MANUAL)
    source_id = models.BigIntegerField(null=True, blank=True)
    quorum = models.PositiveSmallIntegerField(help_text="approvals needed (committee_quorum when proposed)")
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.PENDING)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+", help_text="empty: the platform (automatic rule)")
    proposed_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    rejection_reason = models.TextField(blank=True)
    entry = models.ForeignKey(Entry, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    idempotency_key = models.CharField(max_length=KEY_MAX, null=True, blank=True, unique=True)
    idempotency_fingerprint = models.CharField(max_length=64, null=True, blank=True,
                                               help_text="kernel.idempotency.fingerprint of the request")

    class Meta:
        ordering = ["-proposed_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=(Q(kind="single") & Q(resident__isnull=False) & Q(batch__isnull=True))
                                   | (Q(kind="batch") & Q(resident__isnull=True) & Q(batch__isnull=False)),
                                   name="points_proposal_target"),
            models.CheckConstraint(condition=~Q(points=0), name="points_proposal_not_zero"),
            models.CheckConstraint(condition=~Q(status="rejected") | ~Q(rejection_reason=""),
                                   name="points_proposal_rejection_has_reason"),
        ]
        indexes = [models.Index(fields=["status", "proposed_at"], name="points_proposal_status")]

    def __str__(self) -> str:
        return f"proposal #{self.pk} {self.kind} {self.points:+d} ({self.status})"


class Vote(models.Model):
    """One committee member's decision on a proposal or an appeal."""

    class Decision(models.TextChoices):
        APPROVE = "approve", _("approve")
        REJECT = "reject", _("reject")

    proposal = models.ForeignKey(Proposal, null=True, blank=True, on_delete=models.CASCADE, related_name="votes")
    appeal = models.ForeignKey("Appeal", null=True, blank=True, on_delete=models.CASCADE, related_name="votes")
    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decision = models.CharField(max_length=7, choices=Decision.choices)
    reason = models.TextField(blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["proposal", "member"], condition=Q(proposal__isnull=False),
                                    name="points_vote_once_per_proposal"),
            models.UniqueConstraint(fields=["appeal", "member"], condition=Q(appeal__isnull=False),
                                    name="points_vote_once_per_appeal"),
            models.CheckConstraint(condition=(Q(proposal__isnull=False) & Q(appeal__isnull=True))
                                   | (Q(proposal__isnull=True) & Q(appeal__isnull=False)),
                                   name="points_vote_one_subject"),
            models.CheckConstraint(condition=~Q(decision="reject") | ~Q(reason=""), name="points_vote_reject_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} {self.decision}"


class Appeal(models.Model):
    """A resident disputes an entry; the committee upholds it (reversing entry) or refuses it."""

    class Status(models.TextChoices):
        PENDING = "pending", _("waiting for the committee")
        UPHELD = "upheld", _("upheld: the entry was reversed")
        REFUSED = "refused", _("refused")

    entry = models.ForeignKey(Entry, on_delete=models.PROTECT, related_name="+")
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="+")
    filed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    quorum = models.PositiveSmallIntegerField()
    filed_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    reversal = models.ForeignKey(Entry, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-filed_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["entry"], condition=Q(status="pending"), name="points_appeal_one_open"),
            models.CheckConstraint(condition=~Q(status="refused") | ~Q(decision_reason=""),
                                   name="points_appeal_refusal_has_reason"),
            models.CheckConstraint(condition=~Q(status="upheld") | Q(reversal__isnull=False),
                                   name="points_appeal_upheld_has_reversal"),
        ]

    def __str__(self) -> str:
        return f"appeal #{self.pk} on entry {self.entry_id} ({self.status})"
