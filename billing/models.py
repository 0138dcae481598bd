"""Billing (public schema): plans as data, one account per district mirroring its Stripe customer and
subscription, the invoice mirror, the webhook event store (each Stripe event once, processed as a job),
reconcile reports and monthly usage. Stripe is only ever called from ``billing.gateway``."""
from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from kernel.models import JobStatus

PLAN_KEY = RegexValidator(r"^[a-z][a-z0-9-]{1,39}$", _("Lower-case letters, digits and hyphens, 2 to 40."))


class Plan(models.Model):
    """What a district pays: a module bundle for a size band, a monthly amount in fen (CNY cents),
    how it is collected, and how long a district may stay unpaid before it is suspended."""

    class Collection(models.TextChoices):
        SEND_INVOICE = "send_invoice", _("by invoice")
        CHARGE_AUTOMATICALLY = "charge_automatically", _("by card (automatic)")

    key = models.CharField(max_length=40, unique=True, validators=[PLAN_KEY])
    name_zh = models.CharField(max_length=80)
    name_en = models.CharField(max_length=80, blank=True)
    modules = ArrayField(models.CharField(max_length=40), default=list, blank=True)
    max_population = models.PositiveIntegerField(null=True, blank=True,
                                                 help_text="upper bound of the size band (empty: no bound)")
    amount_fen = models.PositiveIntegerField(help_text="monthly amount in fen (1 CNY = 100 fen)")
    currency = models.CharField(max_length=3, default="cny")
    collection_method = models.CharField(max_length=24, choices=Collection.choices, default=Collection.SEND_INVOICE)
    days_until_due = models.PositiveSmallIntegerField(default=30, validators=[MinValueValidator(1)])
    grace_days = models.PositiveSmallIntegerField(default=14)
    records_usage = models.BooleanField(default=False)
    usage_metered = models.BooleanField(default=False, help_text="usage is reported to Stripe")
    active = models.BooleanField(default=True)
    stripe_product_id = models.CharField(max_length=64, blank=True)
    stripe_plan_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["amount_fen", "key"]
        constraints = [
            models.CheckConstraint(condition=Q(collection_method__in=["send_invoice", "charge_automatically"]),
                                   name="billing_plan_collection_valid"),
            models.CheckConstraint(condition=Q(days_until_due__gte=1), name="billing_plan_days_until_due_positive"),
            models.CheckConstraint(condition=Q(usage_metered=False) | Q(records_usage=True),
                                   name="billing_plan_metered_records_usage"),
        ]

    def __str__(self) -> str:
        return f"{self.name_zh} ({self.key})"

    @property
    def amount_yuan(self) -> str:
        return f"{self.amount_fen / 100:.2f}"


class AccountState(models.TextChoices):
    PENDING = "pending", _("not yet opened")
    ACTIVE = "active", _("active")
    PAST_DUE = "past_due", _("past due")
    SUSPENDED = "suspended", _("suspended")


class BillingAccount(models.Model):
    """A district's billing: its plan, its Stripe customer and subscription, and where it stands on the
    ladder (active → past due → suspended → active). ``*_as_of`` are the Stripe times of what we know."""

    district = models.OneToOneField("tenants.District", on_delete=models.PROTECT, related_name="billing_account")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="accounts")
    stripe_customer_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    stripe_subscription_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    subscription_status = models.CharField(max_length=32, blank=True)
    subscription_as_of = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=16, choices=AccountState.choices, default=AccountState.PENDING)
    state_as_of = models.DateTimeField(null=True, blank=True)
    past_due_since = models.DateTimeField(null=True, blank=True)
    # Platform staff's override: the ladder keeps the district active until this day (inclusive).
    keep_active_until = models.DateField(null=True, blank=True)
    override_reason = models.CharField(max_length=500, blank=True)
    override_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    opened_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["district__slug"]
        constraints = [models.CheckConstraint(condition=Q(state__in=[s.value for s in AccountState]),
                                              name="billing_account_state_valid")]

    def __str__(self) -> str:
        return f"{self.district_id}: {self.plan_id} ({self.state})"


class Invoice(models.Model):
    """The mirror of one Stripe invoice of a district (Stripe is the truth; ``as_of`` is the Stripe time
    of the newest event or read applied, so an older event never overwrites a newer state)."""

    account = models.ForeignKey(BillingAccount, on_delete=models.PROTECT, related_name="invoices")
    stripe_invoice_id = models.CharField(max_length=64, unique=True)
    number = models.CharField(max_length=64, blank=True)
    amount_due = models.PositiveIntegerField(default=0)
    amount_paid = models.PositiveIntegerField(default=0)
    currency = models.CharField(max_length=3, default="cny")
    status = models.CharField(max_length=16, blank=True)  # draft, open, paid, void, uncollectible
    collection_method = models.CharField(max_length=24, blank=True)
    due_date = models.DateTimeField(null=True, blank=True)
    payment_failed_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    hosted_invoice_url = models.URLField(max_length=500, blank=True)
    invoice_pdf = models.URLField(max_length=500, blank=True)
    as_of = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.number or self.stripe_invoice_id

    @property
    def amount_yuan(self) -> str:
        return f"{self.amount_due / 100:.2f}"


class WebhookEvent(models.Model):
    """One Stripe event, stored once by its id (a repeated delivery finds it and does nothing), then
    processed as a job (kernel.jobs) by idempotent handlers."""

    stripe_event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    created = models.DateTimeField(help_text="when Stripe made the event")
    api_version = models.CharField(max_length=40, blank=True)
    livemode = models.BooleanField(default=False)
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    outcome = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["status", "updated_at"], name="billing_event_status")]

    def __str__(self) -> str:
        return f"{self.type} {self.stripe_event_id}"


class ReconcileReport(models.Model):
    """One run of the daily reconciliation: what differed between the mirror and Stripe, and was fixed."""

    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    accounts_checked = models.PositiveIntegerField(default=0)
    differences = models.JSONField(default=list)
    errors = models.JSONField(default=list)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"reconcile {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def difference_count(self) -> int:
        return len(self.differences)


class UsageRecord(models.Model):
    """A district's usage in one month, from real counts in its schema. One row per district and month."""

    district = models.ForeignKey("tenants.District", on_delete=models.PROTECT, related_name="usage_records")
    month = models.DateField(help_text="the first day of the month")
    residents_bound = models.PositiveIntegerField(default=0)
    active_users = models.PositiveIntegerField(default=0)
    counted_at = models.DateTimeField(auto_now=True)
    reported_at = models.DateTimeField(null=True, blank=True)
    report = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-month", "district_id"]
        constraints = [models.UniqueConstraint(fields=["district", "month"], name="billing_usage_one_per_month")]

    def __str__(self) -> str:
        return f"{self.district_id} {self.month:%Y-%m}"
