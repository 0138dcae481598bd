"""Models of tier benefits: providers and their staff, benefits per honour tier, recorded uses, and
the residents' honour-list choice (光荣榜)."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from modules.points.ledger.models import KEY_MAX
from modules.registry.models import Resident


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
