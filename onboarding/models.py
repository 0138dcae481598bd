"""A vendor's application for a new district, its review thread, and the provisioning run that turns
an approved application into a district (public schema)."""
from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from kernel.models import JobStatus
from tenants.models import HEX_COLOR, SLUG

# An application in one of these states holds its slug and domain (partial unique constraints):
# withdrawn ones let go, provisioned ones hand them to their district.
CLAIMING = ("draft", "submitted", "returned", "resubmitted", "approved", "provisioning", "failed")


class Application(models.Model):
    class State(models.TextChoices):
        DRAFT = "draft", _("draft")
        SUBMITTED = "submitted", _("submitted")
        RETURNED = "returned", _("returned for changes")
        RESUBMITTED = "resubmitted", _("resubmitted")
        APPROVED = "approved", _("approved")
        PROVISIONING = "provisioning", _("provisioning")
        PROVISIONED = "provisioned", _("provisioned")
        FAILED = "failed", _("provisioning failed")
        WITHDRAWN = "withdrawn", _("withdrawn")

    CLAIMING = CLAIMING
    EDITABLE = ("draft", "returned")
    IN_REVIEW = ("submitted", "resubmitted")
    WITHDRAWABLE = ("draft", "submitted", "returned", "resubmitted")

    vendor = models.ForeignKey("tenants.Vendor", on_delete=models.PROTECT, related_name="applications")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    state = models.CharField(max_length=16, choices=State.choices, default=State.DRAFT)

    name_zh = models.CharField(max_length=80)
    name_en = models.CharField(max_length=80, blank=True)
    region_code = models.CharField(max_length=6)  # GB/T 2260
    region_name = models.CharField(max_length=120)  # resolved from the code (python-stdnum's table)
    slug = models.CharField(max_length=40, validators=[SLUG])
    domain = models.CharField(max_length=253)

    contact_name = models.CharField(max_length=80)
    contact_phone_encrypted = models.TextField()  # kernel.personal: E.164, encrypted
    contact_email = models.EmailField(max_length=200)
    population = models.PositiveIntegerField()
    modules = ArrayField(models.CharField(max_length=40), default=list, blank=True)

    seed_template = models.CharField(max_length=40, default="default")
    source_district = models.ForeignKey("tenants.District", null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="+")  # its module configuration is copied

    title_zh = models.CharField(max_length=80, blank=True)
    title_en = models.CharField(max_length=80, blank=True)
    primary_color = models.CharField(max_length=7, default="#c62828", validators=[HEX_COLOR])
    accent_color = models.CharField(max_length=7, default="#f9a825", validators=[HEX_COLOR])
    logo = models.FileField(upload_to="onboarding/logos/", blank=True)

    # The data-processing agreement (PIPL art. 21: the vendor processes on the district's behalf).
    dpa_version = models.CharField(max_length=20, blank=True)
    dpa_signer = models.CharField(max_length=80, blank=True)
    dpa_accepted_at = models.DateTimeField(null=True, blank=True)
    dpa_accepted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="+")

    plan_key = models.CharField(max_length=60)

    district = models.ForeignKey("tenants.District", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="applications")
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["slug"], condition=Q(state__in=CLAIMING), name="application_open_slug"),
            models.UniqueConstraint(fields=["domain"], condition=Q(state__in=CLAIMING),
                                    name="application_open_domain"),
            models.CheckConstraint(condition=Q(state__in=[*CLAIMING, "provisioned", "withdrawn"]),
                                   name="application_state_valid"),
            models.CheckConstraint(condition=Q(population__gt=0), name="application_population_positive"),
        ]
        indexes = [models.Index(fields=["state", "submitted_at"], name="application_queue")]

    def __str__(self) -> str:
        return f"{self.name_zh} ({self.slug})"

    @property
    def contact_phone(self) -> str:
        from kernel.personal import decrypt

        return decrypt(self.contact_phone_encrypted) if self.contact_phone_encrypted else ""

    @property
    def contact_phone_masked(self) -> str:
        from kernel.personal import mask_phone

        return mask_phone(self.contact_phone) if self.contact_phone_encrypted else ""

    @property
    def editable(self) -> bool:
        return self.state in self.EDITABLE

    @property
    def in_review(self) -> bool:
        return self.state in self.IN_REVIEW


class Comment(models.Model):
    """The review thread: staff comments when sending an application back, the vendor's answers."""

    class Kind(models.TextChoices):
        STAFF = "staff", _("platform staff")
        VENDOR = "vendor", _("vendor")

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    author_kind = models.CharField(max_length=8, choices=Kind.choices)
    body = models.TextField(max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.application_id} · {self.author_kind} · {self.body[:30]}"


class ProvisioningRun(models.Model):
    """One attempt chain at provisioning an approved application: a job on the kernel job runner. A
    retry runs the same run again; its done steps are skipped."""

    Status = JobStatus

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="runs")
    district = models.ForeignKey("tenants.District", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"run {self.pk} of {self.application_id} ({self.status})"


class ProvisioningStep(models.Model):
    """One step of a run (kernel.lifecycle_hooks.provisioning_steps()), with its state and result."""

    class State(models.TextChoices):
        PENDING = "pending", _("pending")
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")

    run = models.ForeignKey(ProvisioningRun, on_delete=models.CASCADE, related_name="steps")
    key = models.CharField(max_length=40)
    order = models.IntegerField()
    label_zh = models.CharField(max_length=80)
    label_en = models.CharField(max_length=80)
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order", "key"]
        constraints = [models.UniqueConstraint(fields=["run", "key"], name="provisioning_step_unique")]

    def __str__(self) -> str:
        return f"{self.key} ({self.state})"

    @property
    def seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return round((self.finished_at - self.started_at).total_seconds(), 3)
        return None
