"""Civic points (品德积分): the district's versioned rulebook, an append-only ledger with a balance
per resident and kind, committee proposals with maker–checker approval, appeals, award batches for
tens of thousands of residents, and the compound civility score (小区文明积分).

The ledger (``Entry``) is append-only: a correction is a reversing entry. The database refuses
UPDATE, DELETE and TRUNCATE on its table (trigger, migration 0002); the model and its queryset
refuse them too. ``Balance`` is maintained by the posting services in the same transaction as the
entries, so a balance always equals the sum of its entries."""
from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kernel.models import JobStatus
from modules.registry.models import Compound, Household, Resident

REASON_MAX = 500
EVIDENCE_MAX = 2000
KEY_MAX = 120


class Direction(models.TextChoices):
    ADD = "add", _("add")
    DEDUCT = "deduct", _("deduct")


class BalanceKind(models.TextChoices):
    CIVIC = "civic", _("civic points")
    MATERIAL = "material", _("material points")


class CapPeriod(models.TextChoices):
    DAY = "day", _("per day")
    MONTH = "month", _("per month")
    YEAR = "year", _("per year")


class Origin(models.TextChoices):
    """Where a rule of a template comes from: the source reports, or an example to edit."""

    REPORT = "report", _("from the source reports")
    EXAMPLE = "example", _("example")
    DISTRICT = "district", _("the district's own")


class AutoSource(models.TextChoices):
    """Rules the platform applies by itself when another module reports something."""

    NONE = "", _("posted by people")
    REPORTER = "verified_report.reporter", _("verified report: the reporter")
    OFFENDER = "verified_report.offender", _("verified report: the reported household")
    PRAISED = "verified_report.praised", _("verified report: the praised household")


class SourceKind(models.TextChoices):
    MANUAL = "manual", _("posted by staff")
    PROPOSAL = "proposal", _("committee proposal")
    BATCH = "batch", _("award batch")
    CASE = "case", _("verified report")
    APPEAL = "appeal", _("appeal")
    CORRECTION = "correction", _("correction")


def _evidence_path(instance, filename: str) -> str:
    # The media prefix is the district's; nothing of the uploader's file name is kept.
    ext = filename.rsplit(".", 1)[-1].lower()[:5] if "." in filename else "bin"
    return f"points/evidence/{secrets.token_hex(16)}.{ext}"


# --- rulebook -----------------------------------------------------------------------------------------

class Rule(models.Model):
    """A rule's identity (its code). What it says lives in its versions; one version is current."""

    code = models.SlugField(max_length=40, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class RuleVersion(models.Model):
    """One version of a rule. Point values are magnitudes (≥ 1); ``direction`` gives the sign."""

    rule = models.ForeignKey(Rule, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField()
    is_current = models.BooleanField(default=False)
    name_zh = models.CharField(max_length=80)
    name_en = models.CharField(max_length=120, blank=True)
    description = models.TextField(blank=True)
    direction = models.CharField(max_length=6, choices=Direction.choices)
    kind = models.CharField(max_length=8, choices=BalanceKind.choices, default=BalanceKind.CIVIC)
    category = models.SlugField(max_length=40)
    min_points = models.PositiveIntegerField()
    max_points = models.PositiveIntegerField()
    default_points = models.PositiveIntegerField(help_text="proposed in forms; used by automatic postings")
    evidence_required = models.BooleanField(default=False)
    committee_required = models.BooleanField(default=False)
    cap_period = models.CharField(max_length=5, choices=CapPeriod.choices, blank=True)
    cap_count = models.PositiveIntegerField(null=True, blank=True, help_text="postings per person per period")
    cap_points = models.PositiveIntegerField(null=True, blank=True, help_text="points per person per period")
    effective_from = models.DateField(null=True, blank=True)
    effective_to = models.DateField(null=True, blank=True, help_text="last day the rule applies")
    origin = models.CharField(max_length=8, choices=Origin.choices, default=Origin.DISTRICT)
    origin_note = models.CharField(max_length=300, blank=True, help_text="which report, and what it says")
    auto_source = models.CharField(max_length=40, choices=AutoSource.choices, blank=True)
    auto_categories = models.JSONField(default=list, blank=True,
                                       help_text="case categories an automatic rule applies to; empty: all")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["rule_id", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "version"], name="points_rulever_unique"),
            models.UniqueConstraint(fields=["rule"], condition=Q(is_current=True), name="points_rulever_one_current"),
            models.CheckConstraint(condition=Q(min_points__gte=1) & Q(min_points__lte=F("default_points"))
                                   & Q(default_points__lte=F("max_points")), name="points_rulever_range"),
            models.CheckConstraint(condition=(Q(cap_count__isnull=True) & Q(cap_points__isnull=True))
                                   | ~Q(cap_period=""), name="points_rulever_cap_has_period"),
            models.CheckConstraint(condition=Q(cap_count__isnull=True) | Q(cap_count__gte=1),
                                   name="points_rulever_cap_count"),
            models.CheckConstraint(condition=Q(cap_points__isnull=True) | Q(cap_points__gte=1),
                                   name="points_rulever_cap_points"),
            models.CheckConstraint(condition=Q(effective_from__isnull=True) | Q(effective_to__isnull=True)
                                   | Q(effective_to__gte=F("effective_from")), name="points_rulever_dates"),
        ]
        indexes = [models.Index(fields=["auto_source"], condition=Q(is_current=True) & ~Q(auto_source=""),
                                name="points_rulever_auto")]

    def __str__(self) -> str:
        return f"{self.rule.code} v{self.version} {self.name_zh}"

    @property
    def sign(self) -> int:
        return 1 if self.direction == Direction.ADD else -1

    def applies_on(self, day) -> bool:
        return (self.effective_from is None or self.effective_from <= day) and (
            self.effective_to is None or day <= self.effective_to)


# --- ledger ---------------------------------------------------------------------------------------------

class LedgerIsAppendOnly(Exception):
    pass


class EntryQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise LedgerIsAppendOnly("the points ledger is append-only: post a reversing entry")

    def delete(self):
        raise LedgerIsAppendOnly("the points ledger is append-only: post a reversing entry")

    _raw_delete = delete


class Entry(models.Model):
    """One posting. Never updated, never deleted (a correction is a reversing entry)."""

    id = models.BigAutoField(primary_key=True)
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="+", db_index=False)
    rule = models.ForeignKey(Rule, on_delete=models.PROTECT, related_name="+", db_index=False)
    rule_version = models.ForeignKey(RuleVersion, on_delete=models.PROTECT, related_name="+", db_index=False)
    kind = models.CharField(max_length=8, choices=BalanceKind.choices)
    points = models.IntegerField(help_text="signed: + add, − deduct")
    occurred_on = models.DateField(help_text="when the deed or the behaviour happened")
    reason = models.CharField(max_length=REASON_MAX)
    evidence = models.TextField(blank=True)
    evidence_file = models.FileField(upload_to=_evidence_path, blank=True, max_length=200)
    source_kind = models.CharField(max_length=10, choices=SourceKind.choices)
    source_id = models.BigIntegerField(null=True, blank=True, help_text="case / batch / proposal / appeal id")
    posted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+", db_index=False, help_text="empty: the platform")
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+", db_index=False, help_text="the committee member who approved")
    posted_at = models.DateTimeField(default=timezone.now)
    idempotency_key = models.CharField(max_length=KEY_MAX)
    idempotency_fingerprint = models.CharField(max_length=64, null=True, blank=True,
                                               help_text="kernel.idempotency.fingerprint of the request")
    reverses = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="reversals", db_index=False)

    objects = EntryQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "entries"
        constraints = [
            models.CheckConstraint(condition=~Q(points=0), name="points_entry_not_zero"),
            # a constraint rather than unique=True: no second (LIKE) index on a 1,000,000-row table
            models.UniqueConstraint(fields=["idempotency_key"], name="points_entry_key_unique"),
            models.UniqueConstraint(fields=["reverses"], condition=Q(reverses__isnull=False),
                                    name="points_entry_reversed_once"),
        ]
        indexes = [
            models.Index(F("resident"), F("id").desc(), name="points_entry_history"),
            models.Index(fields=["resident", "rule", "occurred_on"], name="points_entry_caps"),
            models.Index(fields=["source_kind", "source_id", "id"], name="points_entry_source"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.resident_id} {self.points:+d} {self.kind}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise LedgerIsAppendOnly("the points ledger is append-only: post a reversing entry")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise LedgerIsAppendOnly("the points ledger is append-only: post a reversing entry")


class Balance(models.Model):
    """A resident's balance of one kind; always the sum of their entries of that kind."""

    id = models.BigAutoField(primary_key=True)
    # CASCADE: a resident with entries cannot be deleted (Entry.resident is PROTECT); one whose balance
    # row is all there is (created empty by a lock) can.
    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="+", db_index=False)
    kind = models.CharField(max_length=8, choices=BalanceKind.choices)
    points = models.BigIntegerField(default=0)
    entries = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["resident_id", "kind"]
        constraints = [models.UniqueConstraint(fields=["resident", "kind"], name="points_balance_unique")]

    def __str__(self) -> str:
        return f"{self.resident_id} {self.kind} {self.points}"


# --- committee ------------------------------------------------------------------------------------------

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


# --- batches --------------------------------------------------------------------------------------------

class Batch(models.Model):
    """One rule awarded to many residents (e.g. 19,747 residents +5). Runs in Celery in chunks; each
    chunk is one transaction that posts its entries, updates the balances and the progress."""

    class Status(models.TextChoices):
        AWAITING = "awaiting", _("waiting for the committee")
        REJECTED = "rejected", _("rejected")
        QUEUED = JobStatus.QUEUED.value, JobStatus.QUEUED.label
        RUNNING = JobStatus.RUNNING.value, JobStatus.RUNNING.label
        DONE = JobStatus.DONE.value, JobStatus.DONE.label
        FAILED = JobStatus.FAILED.value, JobStatus.FAILED.label

    title = models.CharField(max_length=120)
    rule = models.ForeignKey(Rule, on_delete=models.PROTECT, related_name="+")
    rule_version = models.ForeignKey(RuleVersion, on_delete=models.PROTECT, related_name="+",
                                     help_text="the version the entries are posted under")
    points = models.IntegerField(help_text="signed, per resident")
    occurred_on = models.DateField()
    reason = models.CharField(max_length=REASON_MAX)
    evidence = models.TextField(blank=True)
    target_source = models.CharField(max_length=40, help_text="how the residents were chosen")
    target_params = models.JSONField(default=dict, blank=True, help_text="never personal numbers")
    target_count = models.PositiveIntegerField(default=0)
    unknown_count = models.PositiveIntegerField(default=0, help_text="listed people not found in the registry")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    error = models.TextField(blank=True)
    chunk_size = models.PositiveIntegerField(default=2000)
    progress_done = models.PositiveIntegerField(default=0, help_text="targets processed (committed chunks)")
    posted_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0, help_text="over the rule's cap, or already posted")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="last sign of life of the running job (kernel.jobs)")
    sms_cursor = models.BigIntegerField(default=0, help_text="last entry id notified by SMS")
    sms_sent = models.PositiveIntegerField(default=0)
    sms_failed = models.PositiveIntegerField(default=0)
    sms_done = models.BooleanField(default=False)
    idempotency_key = models.CharField(max_length=64, null=True, blank=True, unique=True,
                                       help_text="kernel.idempotency.stored_key of the client's key")
    idempotency_fingerprint = models.CharField(max_length=64, null=True, blank=True,
                                               help_text="kernel.idempotency.fingerprint of the request")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "batches"
        constraints = [
            models.CheckConstraint(condition=~Q(points=0), name="points_batch_not_zero"),
            models.CheckConstraint(condition=Q(chunk_size__gte=1), name="points_batch_chunk"),
            models.CheckConstraint(condition=Q(progress_done__lte=F("target_count")), name="points_batch_progress"),
        ]

    def __str__(self) -> str:
        return f"batch #{self.pk} {self.title} ({self.status})"


class BatchTarget(models.Model):
    """One resident of a batch, numbered in order (``seq`` from 0) so chunks are ranges."""

    id = models.BigAutoField(primary_key=True)
    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="targets", db_index=False)
    seq = models.PositiveIntegerField()
    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="+", db_index=False)

    class Meta:
        ordering = ["batch_id", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "seq"], name="points_target_seq"),
            models.UniqueConstraint(fields=["batch", "resident"], name="points_target_once"),
        ]

    def __str__(self) -> str:
        return f"batch {self.batch_id} #{self.seq}: {self.resident_id}"


# --- compound civility score ----------------------------------------------------------------------------

class ReportFact(models.Model):
    """A verified report as the compound score counts it (from ``cases.verified_report``)."""

    case_id = models.BigIntegerField(unique=True)
    channel = models.CharField(max_length=20, blank=True)
    category = models.CharField(max_length=40, blank=True)
    reporter_household = models.ForeignKey(Household, null=True, blank=True, on_delete=models.SET_NULL,
                                           related_name="+")
    offender_household = models.ForeignKey(Household, null=True, blank=True, on_delete=models.SET_NULL,
                                           related_name="+")
    praised_household = models.ForeignKey(Household, null=True, blank=True, on_delete=models.SET_NULL,
                                          related_name="+")
    verified_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-verified_at"]

    def __str__(self) -> str:
        return f"case {self.case_id}"


class CompoundScore(models.Model):
    """The compound civility score (小区文明积分), recomputed by ``services.refresh_compound_scores``."""

    compound = models.OneToOneField(Compound, on_delete=models.CASCADE, related_name="+")
    households = models.PositiveIntegerField(default=0)
    residents = models.PositiveIntegerField(default=0)
    civic_points = models.BigIntegerField(default=0)
    reports_made = models.PositiveIntegerField(default=0)
    praises = models.PositiveIntegerField(default=0)
    offences = models.PositiveIntegerField(default=0)
    score = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    rank = models.PositiveIntegerField(default=0)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["rank"]
        indexes = [models.Index(fields=["rank"], name="points_score_rank")]

    def __str__(self) -> str:
        return f"{self.compound_id} #{self.rank} {self.score}"


# --- tier benefits and the honour list ------------------------------------------------------------------

class ProviderKind(models.TextChoices):
    SCHOOL = "school", _("school")
    CLINIC = "clinic", _("clinic or hospital")
    CULTURE = "culture", _("cultural venue")
    SHOP = "shop", _("shop or restaurant")
    TAX = "tax", _("tax office")
    OTHER = "other", _("other")


class LimitPeriod(models.TextChoices):
    DAY = "day", _("per day")
    MONTH = "month", _("per month")
    YEAR = "year", _("per year")
    NONE = "none", _("in all")


class Provider(models.Model):
    """A place that grants benefits to residents of an honour tier (就学、就医、文化、纳税、就餐购物)."""

    name = models.CharField(max_length=80)
    kind = models.CharField(max_length=8, choices=ProviderKind.choices)
    address = models.CharField(max_length=200, blank=True)
    phone = models.CharField(max_length=30, blank=True, help_text="the provider's public service number")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["name"], name="points_provider_name_unique"),
            models.CheckConstraint(condition=~Q(name=""), name="points_provider_has_name"),
        ]

    def __str__(self) -> str:
        return self.name


class ProviderStaff(models.Model):
    """A district user who verifies personal codes and records benefit uses for one provider."""

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="staff", db_index=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["provider_id", "id"]
        verbose_name_plural = "provider staff"
        constraints = [models.UniqueConstraint(fields=["provider", "user"], name="points_providerstaff_unique")]

    def __str__(self) -> str:
        return f"{self.user_id} @ {self.provider_id}"


class Benefit(models.Model):
    """What a provider grants from an honour tier upwards (``min_tier``: a key of the configured
    tiers), at most ``limit_count`` times per resident per ``limit_period`` (empty: no limit)."""

    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="benefits", db_index=False)
    title = models.CharField(max_length=80)
    description = models.CharField(max_length=500, blank=True)
    min_tier = models.CharField(max_length=20, help_text="key of the lowest tier that may use it")
    limit_count = models.PositiveIntegerField(null=True, blank=True, help_text="uses per resident per period")
    limit_period = models.CharField(max_length=5, choices=LimitPeriod.choices, default=LimitPeriod.NONE)
    active = models.BooleanField(default=True)
    valid_from = models.DateField(null=True, blank=True)
    valid_to = models.DateField(null=True, blank=True, help_text="last day it may be used")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["provider_id", "title", "id"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "title"], name="points_benefit_title_unique"),
            models.CheckConstraint(condition=~Q(title="") & ~Q(min_tier=""), name="points_benefit_has_title_tier"),
            models.CheckConstraint(condition=Q(limit_count__isnull=True) | Q(limit_count__gte=1),
                                   name="points_benefit_limit_count"),
            models.CheckConstraint(condition=Q(limit_period__in=LimitPeriod.values),
                                   name="points_benefit_limit_period"),
            models.CheckConstraint(condition=Q(limit_count__isnull=False) | Q(limit_period="none"),
                                   name="points_benefit_no_limit_no_period"),
            models.CheckConstraint(condition=Q(valid_from__isnull=True) | Q(valid_to__isnull=True)
                                   | Q(valid_to__gte=F("valid_from")), name="points_benefit_dates"),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.min_tier})"

    def valid_on(self, day) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (self.valid_to is None or day <= self.valid_to)


class BenefitUse(models.Model):
    """A benefit used by a resident, recorded by the provider's staff after scanning the resident's
    personal code. ``idempotency_key`` is unique, so a double tap records one use."""

    id = models.BigAutoField(primary_key=True)
    benefit = models.ForeignKey(Benefit, on_delete=models.PROTECT, related_name="uses", db_index=False)
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="+", db_index=False)
    tier = models.CharField(max_length=20, help_text="the resident's tier when it was used")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                    db_index=False)
    at = models.DateTimeField(default=timezone.now)
    idempotency_key = models.CharField(max_length=KEY_MAX)
    idempotency_fingerprint = models.CharField(max_length=64, null=True, blank=True,
                                               help_text="kernel.idempotency.fingerprint of the request")

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [models.UniqueConstraint(fields=["idempotency_key"], name="points_benefituse_key_unique")]
        indexes = [
            models.Index(fields=["resident", "benefit", "at"], name="points_benefituse_limit"),
            models.Index(fields=["benefit", "at"], name="points_benefituse_benefit"),
        ]

    def __str__(self) -> str:
        return f"use #{self.pk} of {self.benefit_id} by {self.resident_id}"


class HonourOptIn(models.Model):
    """The resident's own choice to appear on the public honour list (光荣榜), and how."""

    class ShowName(models.TextChoices):
        MASKED = "masked", _("masked name (张*明)")
        ANONYMOUS = "anonymous", _("anonymous (某居民)")

    resident = models.OneToOneField(Resident, on_delete=models.CASCADE, related_name="+")
    public = models.BooleanField(default=False)
    show_name = models.CharField(max_length=9, choices=ShowName.choices, default=ShowName.MASKED)
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["resident_id"]
        constraints = [models.CheckConstraint(condition=Q(show_name__in=["masked", "anonymous"]),
                                              name="points_honour_show_name")]
        indexes = [models.Index(fields=["resident"], condition=Q(public=True), name="points_honour_public")]

    def __str__(self) -> str:
        return f"{self.resident_id} {'public' if self.public else 'private'}"
