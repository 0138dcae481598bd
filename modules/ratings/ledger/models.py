"""The ratings ledger: one row per rating, whatever the channel (official code, merchant code, case,
on site), and the monthly tallies the figures read.

A rating's ``state`` says whether it counts:

- ``counted``: in the figures (and in ``Tally``);
- ``held``: flagged by an anti-gaming rule (``hold_reasons``), out of the figures until a reviewer
  decides (``counted`` again, or ``rejected``);
- ``rejected``: a reviewer found a held rating not genuine; kept in the record, never counted;
- ``removed``: an appeal against it was upheld; kept in the record, never counted;
- ``superseded``: the rater changed their mind within the period; the new rating replaces it.

Every change of state goes through ``modules.ratings.ledger.state.change_state``, which keeps
``Tally`` equal to the sum of the counted ratings (``tally.rebuild`` recomputes it from scratch)."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

COMMENT_MAX = 500
BAD_MAX = 2  # 不满意 and 非常不满意: the last two levels


class Level(models.IntegerChoices):
    VERY_SATISFIED = 5, pgettext_lazy("rating", "Very satisfied")
    SATISFIED = 4, pgettext_lazy("rating", "Satisfied")
    FAIRLY_SATISFIED = 3, pgettext_lazy("rating", "Fairly satisfied")
    DISSATISFIED = 2, pgettext_lazy("rating", "Dissatisfied")
    VERY_DISSATISFIED = 1, pgettext_lazy("rating", "Very dissatisfied")


class SubjectKind(models.TextChoices):
    OFFICIAL = "official", _("official")
    MERCHANT = "merchant", _("merchant")
    UNIT = "unit", _("handling unit")  # a case handled by someone with no official record: counts for the grid


class Channel(models.TextChoices):
    OFFICIAL_CODE = "official_code", _("official code")
    MERCHANT_CODE = "merchant_code", _("merchant code")
    CASE = "case", _("case")
    ON_SITE = "on_site", _("on site")


class State(models.TextChoices):
    COUNTED = "counted", _("counted")
    HELD = "held", _("held for review")
    REJECTED = "rejected", _("rejected by a reviewer")
    REMOVED = "removed", _("removed on appeal")
    SUPERSEDED = "superseded", _("replaced by a later rating")


LIVE_STATES = (State.COUNTED, State.HELD)  # what one-per-period counts


class Rating(models.Model):
    subject_kind = models.CharField(max_length=10, choices=SubjectKind.choices)
    official = models.ForeignKey("registry.Official", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="ratings")
    merchant = models.ForeignKey("registry.Merchant", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="ratings")
    # Where it counts, fixed when it is made (a later move of the official changes no old figure).
    department = models.ForeignKey("registry.Department", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="ratings")
    grid = models.ForeignKey("registry.Grid", null=True, blank=True, on_delete=models.PROTECT, related_name="ratings")
    community = models.ForeignKey("registry.Community", null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="ratings")
    street = models.ForeignKey("registry.Street", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="ratings")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    level = models.PositiveSmallIntegerField(choices=Level.choices, help_text="overall, 1 (very dissatisfied) to 5")
    scores = models.JSONField(default=dict, blank=True, help_text="{dimension key: level} of the district's dimensions")
    comment = models.TextField(max_length=COMMENT_MAX, blank=True)
    # Who rated. ``rater_key`` is what one-per-period is counted by: "u:<user id>" (a signed-in person), or
    # "p:<phone index>" (a verified phone with no account), or "case:<case id>".
    rater = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="ratings_given")
    rater_key = models.CharField(max_length=80)
    rater_household = models.ForeignKey("registry.Household", null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="+")
    rater_phone_index = models.CharField(max_length=64, blank=True)
    device_hash = models.CharField(max_length=64, blank=True, help_text="keyed hash of the device cookie")
    network_hash = models.CharField(max_length=64, blank=True, help_text="keyed hash of the client's network (/24, /48)")
    real_name = models.BooleanField(default=True, help_text="the rater is known (signed in or on a case)")
    period_key = models.CharField(max_length=12, help_text="the rating period it belongs to, e.g. 2026-12")
    case_id = models.BigIntegerField(null=True, blank=True, help_text="channel case: the rated case (cases.Case)")
    case_ref = models.CharField(max_length=32, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.COUNTED)
    hold_reasons = models.JSONField(default=list, blank=True,
                                    help_text="[{rule, detail}] of the anti-gaming rules that held it")
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    decision_note = models.CharField(max_length=500, blank=True)
    replaces = models.OneToOneField("self", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="replaced_by", help_text="the rating this changed mind replaced")
    follow_on_of = models.OneToOneField("self", null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="follow_on", help_text="追评: the rating this one follows up")
    created_at = models.DateTimeField(db_index=True)
    # A retried POST with the same Idempotency-Key returns this rating (kernel.idempotency).
    idempotency_key = models.CharField(max_length=64, null=True, blank=True, unique=True,
                                       help_text="kernel.idempotency.stored_key of the client's key")
    idempotency_fingerprint = models.CharField(max_length=64, blank=True,
                                               help_text="kernel.idempotency.fingerprint of the submitted values")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["official", "created_at"], name="ratings_official_at"),
            models.Index(fields=["merchant", "created_at"], name="ratings_merchant_at"),
            models.Index(fields=["state", "created_at"], name="ratings_held_at", condition=Q(state="held")),
            models.Index(fields=["rater", "created_at"], name="ratings_rater_at"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(level__gte=1, level__lte=5), name="ratings_level_1_to_5"),
            models.CheckConstraint(
                condition=(Q(subject_kind="official", official__isnull=False, merchant__isnull=True)
                           | Q(subject_kind="merchant", merchant__isnull=False, official__isnull=True)
                           | Q(subject_kind="unit", official__isnull=True, merchant__isnull=True, channel="case")),
                name="ratings_subject_matches_kind"),
            models.CheckConstraint(condition=~Q(channel="case") | Q(case_id__isnull=False),
                                   name="ratings_case_channel_has_case"),
            # one live rating per rater, subject and period (a follow-on rating, 追评, is the one extra)
            models.UniqueConstraint(fields=["rater_key", "subject_kind", "official", "merchant", "period_key"],
                                    condition=Q(state__in=["counted", "held"], follow_on_of__isnull=True),
                                    nulls_distinct=False, name="ratings_one_per_period"),
            # one live rating per case (a rating removed on appeal or rejected stays in the record; the case
            # reopened and rated again gets a new one)
            models.UniqueConstraint(fields=["case_id"], condition=Q(channel="case", follow_on_of__isnull=True,
                                                                    state__in=["counted", "held"]),
                                    name="ratings_one_per_case"),
        ]

    def __str__(self) -> str:
        return f"rating {self.pk} ({self.level})"

    @property
    def is_bad(self) -> bool:
        return self.level <= BAD_MAX

    @property
    def subject(self):
        return self.official if self.subject_kind == SubjectKind.OFFICIAL else self.merchant


class Tally(models.Model):
    """Sums of the counted ratings per month, subject, unit, channel and dimension (``""``: overall).
    Rankings and trends read these, never the 600,000 ratings. Kept by ``ledger.state`` in the same
    transaction as the rating; ``ledger.tally.rebuild`` recomputes them."""

    month = models.DateField(help_text="the first day of the month")
    subject_kind = models.CharField(max_length=10, choices=SubjectKind.choices)
    official = models.ForeignKey("registry.Official", null=True, blank=True, on_delete=models.CASCADE,
                                 related_name="+")
    merchant = models.ForeignKey("registry.Merchant", null=True, blank=True, on_delete=models.CASCADE,
                                 related_name="+")
    department = models.ForeignKey("registry.Department", null=True, blank=True, on_delete=models.CASCADE,
                                   related_name="+")
    grid = models.ForeignKey("registry.Grid", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    dimension = models.CharField(max_length=24, blank=True, help_text="'' is the overall level")
    n = models.IntegerField(default=0)
    total = models.IntegerField(default=0, help_text="the sum of the levels")
    bad = models.IntegerField(default=0, help_text="how many of the last two levels")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["month", "subject_kind", "official", "merchant", "department", "grid",
                                            "channel", "dimension"], nulls_distinct=False, name="ratings_tally_key"),
        ]
        indexes = [
            models.Index(fields=["month", "dimension"], name="ratings_tally_month"),
            # the rankings and trends: one dimension of one kind of subject over a range of months, summed
            # by subject or unit, answered from the index alone (43 ms instead of 90-100 ms for 2,000
            # officials over a year)
            models.Index(fields=["dimension", "subject_kind", "month"], name="ratings_tally_rank",
                         include=["official", "merchant", "department", "grid", "channel", "n", "total", "bad"]),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.subject_kind} {self.dimension or 'overall'}: {self.n}"
