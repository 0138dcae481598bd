"""Cases (码上解决): one resident request handled to the end.

Category × area → responsible unit comes from the versioned responsibility list (权责清单); each case
keeps the list version it was judged by. Time limits follow the district's holiday calendar.
Personal contact data is stored encrypted with a blind index beside it, never in clear."""
from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual
from django.utils.translation import gettext_lazy as _

from kernel.personal import decrypt, mask_phone

TITLE_MAX = 80
DESCRIPTION_MAX = 2000
RESULT_MAX = 2000
MEDIA_URL_MAX = 300
ADDRESS_MAX = 200


class AssignMode(models.TextChoices):
    DISPATCH = "dispatch", _("dispatch to the grid's worker")
    GRAB = "grab", _("post to the pool (grab)")


class AreaKind(models.TextChoices):
    DISTRICT = "district", _("whole district")
    STREET = "street", _("street")
    COMMUNITY = "community", _("community")
    GRID = "grid", _("grid")


class UnitKind(models.TextChoices):
    GRID_WORKERS = "grid_workers", _("the grid's workers")
    COMMUNITY = "community", _("community")
    STREET = "street", _("street")
    DEPARTMENT = "department", _("department")
    # Fallback only: when no row of the responsibility list applies, district supervision owns the case.
    DISTRICT = "district", _("district supervision")


class LimitUnit(models.TextChoices):
    HOURS = "hours", _("hours")
    WORKING_DAYS = "working_days", _("working days")


class OwnerLevel(models.IntegerChoices):
    """The escalation chain: an overdue case moves one level up per sweep step."""

    GRID_WORKER = 0, _("grid worker")
    COMMUNITY = 1, _("community")
    STREET = 2, _("street")
    DEPARTMENT = 3, _("department")
    DISTRICT = 4, _("district supervision")


class Category(models.Model):
    code = models.SlugField(max_length=40, unique=True)
    name_zh = models.CharField(max_length=40)
    name_en = models.CharField(max_length=60, blank=True)
    assign_mode = models.CharField(max_length=10, choices=AssignMode.choices, default=AssignMode.DISPATCH)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name_zh


class ResponsibilityList(models.Model):
    """One version of the responsibility list. Exactly one version is current once published."""

    version = models.PositiveIntegerField(unique=True)
    is_current = models.BooleanField(default=False)
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["is_current"], condition=Q(is_current=True),
                                    name="cases_rlist_one_current"),
            models.CheckConstraint(condition=Q(is_current=False) | Q(published_at__isnull=False),
                                   name="cases_rlist_current_is_published"),
        ]

    def __str__(self) -> str:
        return f"v{self.version}"


class ResponsibilityItem(models.Model):
    rlist = models.ForeignKey(ResponsibilityList, on_delete=models.CASCADE, related_name="items")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="responsibilities")
    area_kind = models.CharField(max_length=10, choices=AreaKind.choices, default=AreaKind.DISTRICT)
    area_code = models.CharField(max_length=20, blank=True)
    unit_kind = models.CharField(max_length=16, choices=UnitKind.choices, default=UnitKind.GRID_WORKERS)
    unit_code = models.CharField(max_length=40, blank=True,
                                 help_text="grid_workers: empty means the case's own grid")
    response_amount = models.PositiveIntegerField(default=24)
    response_unit = models.CharField(max_length=12, choices=LimitUnit.choices, default=LimitUnit.HOURS)
    resolution_amount = models.PositiveIntegerField(default=5)
    resolution_unit = models.CharField(max_length=12, choices=LimitUnit.choices, default=LimitUnit.WORKING_DAYS)

    class Meta:
        ordering = ["rlist_id", "category_id", "area_kind", "area_code"]
        constraints = [
            models.UniqueConstraint(fields=["rlist", "category", "area_kind", "area_code"],
                                    name="cases_ritem_unique_area"),
            models.CheckConstraint(condition=Q(area_kind="district", area_code="")
                                   | (~Q(area_kind="district") & ~Q(area_code="")),
                                   name="cases_ritem_area_code_matches_kind"),
            models.CheckConstraint(condition=Q(response_amount__gt=0) & Q(resolution_amount__gt=0),
                                   name="cases_ritem_limits_positive"),
            models.CheckConstraint(condition=Q(unit_kind="grid_workers") | ~Q(unit_code=""),
                                   name="cases_ritem_unit_code_required"),
        ]

    def __str__(self) -> str:
        return f"{self.rlist} {self.category.code} @ {self.area_kind}:{self.area_code} → {self.unit_kind}:{self.unit_code}"


class Holiday(models.Model):
    """The district's holiday calendar: a weekday listed here is off; a weekend day listed with
    ``is_working_day`` is a make-up working day (调休上班)."""

    date = models.DateField(unique=True)
    is_working_day = models.BooleanField(default=False)
    name = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} {'work' if self.is_working_day else 'off'} {self.name}"


class RefCounter(models.Model):
    """Per-day sequence of human-readable reference numbers (KBS-20261123-0001)."""

    day = models.DateField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.day}: {self.last}"


class Case(models.Model):
    class Channel(models.TextChoices):
        SNAP = "snap", _("snap report")
        OUTDOOR_REPORT = "outdoor_report", _("outdoor code: report")
        OUTDOOR_PRAISE = "outdoor_praise", _("outdoor code: praise")
        SUGGESTION = "suggestion", _("suggestion")
        MERCHANT_REQUEST = "merchant_request", _("merchant request")
        HOTLINE = "hotline", _("12345 hotline")
        MAILBOX = "mailbox", _("citizen mailbox")
        OPEN311 = "open311", _("Open311")

    class Status(models.TextChoices):
        SUBMITTED = "submitted", _("submitted")
        ASSIGNED = "assigned", _("assigned")
        ACCEPTED = "accepted", _("accepted")
        IN_PROGRESS = "in_progress", _("in progress")
        RESOLVED = "resolved", _("resolved")
        CLOSED = "closed", _("closed")
        REJECTED = "rejected", _("rejected")

    class RejectReason(models.TextChoices):
        NOT_OUR_RESPONSIBILITY = "not_our_responsibility", _("not our responsibility")
        DUPLICATE = "duplicate", _("duplicate")

    ref = models.CharField(max_length=32, unique=True)
    channel = models.CharField(max_length=20, choices=Channel.choices)
    integration = models.ForeignKey("cases.Integration", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="cases", help_text="the hotline / mailbox / Open311 client it came from")
    external_id = models.CharField(max_length=64, blank=True, help_text="the integration's own number (工单号)")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="cases")
    title = models.CharField(max_length=TITLE_MAX)
    description = models.TextField(max_length=DESCRIPTION_MAX, blank=True)
    household = models.ForeignKey("registry.Household", null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="cases")
    compound = models.ForeignKey("registry.Compound", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="cases")
    grid = models.ForeignKey("registry.Grid", null=True, blank=True, on_delete=models.SET_NULL, related_name="cases")
    community = models.ForeignKey("registry.Community", null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="cases")
    street = models.ForeignKey("registry.Street", null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="cases")
    merchant = models.ForeignKey("registry.Merchant", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="cases", help_text="merchant requests: the merchant asking")
    address = models.CharField(max_length=ADDRESS_MAX, blank=True, help_text="the place in words")
    media_url = models.URLField(max_length=MEDIA_URL_MAX, blank=True,
                                help_text="a link to a photo the reporter gave (Open311 media_url); never fetched")
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="reported_cases")
    reporter_household = models.ForeignKey("registry.Household", null=True, blank=True, on_delete=models.SET_NULL,
                                           related_name="+")
    reporter_contact_encrypted = models.TextField(blank=True)
    reporter_contact_index = models.CharField(max_length=64, blank=True, db_index=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.SUBMITTED)
    assign_mode = models.CharField(max_length=10, choices=AssignMode.choices, default=AssignMode.DISPATCH)
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="assigned_cases")
    responsible_kind = models.CharField(max_length=16, choices=UnitKind.choices)
    responsible_code = models.CharField(max_length=40, blank=True)
    rlist = models.ForeignKey(ResponsibilityList, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="cases", help_text="the list version this case was judged by")
    submitted_at = models.DateTimeField(db_index=True)
    response_due = models.DateTimeField()
    resolution_due = models.DateTimeField()
    responded_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    escalation_level = models.PositiveSmallIntegerField(default=0)
    owner_level = models.PositiveSmallIntegerField(choices=OwnerLevel.choices, default=OwnerLevel.GRID_WORKER)
    next_escalation_at = models.DateTimeField(null=True, blank=True,
                                              help_text="when the sweep next moves it up; empty once settled")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="duplicates")
    follow_up_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="follow_ups", help_text="a bad rating's follow-up case")
    reject_reason = models.CharField(max_length=24, choices=RejectReason.choices, blank=True)
    rating = models.PositiveSmallIntegerField(null=True, blank=True)
    result = models.TextField(max_length=RESULT_MAX, blank=True)
    reopen_count = models.PositiveSmallIntegerField(default=0)
    idempotency_key = models.CharField(max_length=64, null=True, blank=True, unique=True,
                                       help_text="kernel.idempotency.stored_key of the client's key (older rows: the key)")
    idempotency_fingerprint = models.CharField(max_length=64, null=True, blank=True,
                                               help_text="kernel.idempotency.fingerprint of the submitted values")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-submitted_at", "-id"]
        indexes = [
            models.Index(fields=["next_escalation_at"], name="cases_escalation_due",
                         condition=Q(next_escalation_at__isnull=False)),
            models.Index(fields=["resolved_at"], name="cases_resolved_open", condition=Q(status="resolved")),
            models.Index(fields=["status", "assignee"], name="cases_status_assignee"),
            models.Index(fields=["responsible_kind", "responsible_code"], name="cases_unit"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(rating__isnull=True) | Q(rating__gte=1, rating__lte=5),
                                   name="cases_rating_1_to_5"),
            models.CheckConstraint(condition=Q(owner_level__lte=4), name="cases_owner_level_known"),
            models.CheckConstraint(condition=~Q(status__in=["assigned", "accepted", "in_progress"])
                                   | Q(assignee__isnull=False), name="cases_handled_has_assignee"),
            models.CheckConstraint(condition=~Q(status="resolved") | Q(resolved_at__isnull=False),
                                   name="cases_resolved_has_time"),
            models.CheckConstraint(condition=~Q(status="closed") | Q(closed_at__isnull=False),
                                   name="cases_closed_has_time"),
            models.CheckConstraint(condition=Q(status="rejected", reject_reason__gt="")
                                   | (~Q(status="rejected") & Q(reject_reason="")),
                                   name="cases_rejected_has_reason"),
            models.CheckConstraint(condition=Q(parent__isnull=True) | Q(reject_reason="duplicate"),
                                   name="cases_parent_only_for_duplicates"),
            models.CheckConstraint(condition=Q(parent__isnull=True) | ~Q(parent=models.F("pk")),
                                   name="cases_parent_not_self"),
            models.CheckConstraint(condition=Q(rating__isnull=True) | Q(status="closed"),
                                   name="cases_rated_only_when_closed"),
            models.CheckConstraint(condition=LessThanOrEqual(Length("description"), DESCRIPTION_MAX),
                                   name="cases_description_length"),
            models.CheckConstraint(condition=LessThanOrEqual(Length("result"), RESULT_MAX),
                                   name="cases_result_length"),
            models.CheckConstraint(condition=Q(responsible_kind="grid_workers") | Q(responsible_kind="district")
                                   | ~Q(responsible_code=""), name="cases_unit_code_required"),
            models.CheckConstraint(condition=Q(external_id="") | Q(integration__isnull=False),
                                   name="cases_external_id_needs_integration"),
            models.UniqueConstraint(fields=["integration", "external_id"], condition=~Q(external_id=""),
                                    name="cases_external_id_once"),
            models.UniqueConstraint(fields=["follow_up_of"], condition=Q(follow_up_of__isnull=False),
                                    name="cases_one_follow_up"),
        ]

    def __str__(self) -> str:
        return f"{self.ref} {self.title}"

    OPEN = (Status.SUBMITTED, Status.ASSIGNED, Status.ACCEPTED, Status.IN_PROGRESS)

    @property
    def reporter_contact_masked(self) -> str:
        if not self.reporter_contact_encrypted:
            return ""
        return mask_phone(decrypt(self.reporter_contact_encrypted))


class CaseEvent(models.Model):
    """One step of a case's timeline."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    kind = models.CharField(max_length=24)
    from_status = models.CharField(max_length=12, blank=True)
    to_status = models.CharField(max_length=12, blank=True)
    note = models.TextField(max_length=2000, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["case", "at"], name="cases_event_timeline")]

    def __str__(self) -> str:
        return f"{self.case_id} {self.kind} {self.from_status}→{self.to_status}"


class CaseParticipant(models.Model):
    """Joint handling (联调联办): sector workers, mediators or departments beside the assignee."""

    class Kind(models.TextChoices):
        SECTOR_WORKER = "sector_worker", _("sector grid worker")
        MEDIATOR = "mediator", _("mediator")
        DEPARTMENT = "department", _("department")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="participants")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="joint_cases")
    department_code = models.CharField(max_length=40, blank=True)
    added_at = models.DateTimeField()
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")

    class Meta:
        ordering = ["case_id", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(kind="department", user__isnull=True) & ~Q(department_code="")
                                   | (~Q(kind="department") & Q(user__isnull=False)),
                                   name="cases_participant_who"),
            models.UniqueConstraint(fields=["case", "user"], condition=Q(user__isnull=False),
                                    name="cases_participant_user_once"),
            models.UniqueConstraint(fields=["case", "department_code"], condition=~Q(department_code=""),
                                    name="cases_participant_department_once"),
        ]

    def __str__(self) -> str:
        return f"{self.case_id} {self.kind} {self.user_id or self.department_code}"


def attachment_path(instance, filename: str) -> str:
    # The default storage adds the district's prefix; the name is random and keeps nothing of the
    # uploader's file name. Files are served through the case pages, which check who may see them.
    ext = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/heic": "heic",
           "video/mp4": "mp4"}.get(instance.content_type, "bin")
    return f"cases/{secrets.token_hex(16)}.{ext}"


class Attachment(models.Model):
    """A photo or short video of a report (stage ``report``) or of the handler's result (``result``),
    checked by content and stripped of EXIF location and camera data before it was stored."""

    class Stage(models.TextChoices):
        REPORT = "report", _("report")
        RESULT = "result", _("result")

    class Kind(models.TextChoices):
        PHOTO = "photo", _("photo")
        VIDEO = "video", _("video")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="attachments")
    stage = models.CharField(max_length=8, choices=Stage.choices, default=Stage.REPORT)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    file = models.FileField(upload_to=attachment_path, max_length=200)
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField(help_text="bytes, as stored")
    sha256 = models.CharField(max_length=64)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    uploaded_at = models.DateTimeField()

    class Meta:
        ordering = ["case_id", "uploaded_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["case", "stage", "sha256"], name="cases_attachment_once"),
        ]

    def __str__(self) -> str:
        return f"{self.case_id} {self.stage} {self.kind}"


class Integration(models.Model):
    """An outside system that files cases: the 12345 hotline, the citizen mailbox, an Open311 client.
    It authenticates with its own key (only a hash is kept) and hears back through a signed webhook."""

    class Kind(models.TextChoices):
        HOTLINE = "hotline", _("12345 hotline")
        MAILBOX = "mailbox", _("citizen mailbox")
        OPEN311 = "open311", _("Open311 client")

    name = models.CharField(max_length=80)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    key_prefix = models.CharField(max_length=16, unique=True, help_text="the key's first characters, to tell keys apart")
    key_hash = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the key; the key itself is shown once")
    webhook_url = models.URLField(max_length=300, blank=True)
    webhook_secret_encrypted = models.TextField(blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class WebhookDelivery(models.Model):
    """One status update owed to an integration: kept until delivered, retried with back-off, sent at
    most once per (integration, event) — the receiver dedupes on the event id it carries."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        DELIVERED = "delivered", _("delivered")
        FAILED = "failed", _("failed (gave up)")

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="deliveries")
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="webhook_deliveries")
    event_id = models.CharField(max_length=64)
    kind = models.CharField(max_length=40)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["next_attempt_at"], name="cases_webhook_due",
                                condition=Q(status="pending"))]
        constraints = [
            models.UniqueConstraint(fields=["integration", "event_id"], name="cases_webhook_once"),
        ]

    def __str__(self) -> str:
        return f"{self.integration_id} {self.kind} {self.status}"
