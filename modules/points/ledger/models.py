"""Models of the ledger and the rulebook: versioned rules, the append-only ledger (``Entry``) with a
balance per resident and kind, and the compound civility score (小区文明积分) with the verified reports
it counts.

The ledger is append-only: a correction is a reversing entry. The database refuses UPDATE, DELETE and
TRUNCATE on its table (trigger, migration 0002); the model and its queryset refuse them too.
``Balance`` is maintained by the posting services in the same transaction as the entries, so a
balance always equals the sum of its entries. App label ``points``: ``modules.points.models`` imports
every sub-package's models."""
from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

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
