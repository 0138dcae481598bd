"""The five codes (五码), the requests of residents to bind to a household, the household head's
invitations, and print runs.

A code's token is what its QR encodes (``https://<district-domain>/c/<token>``): 128 random bits,
never a database id, so codes cannot be enumerated. A lost door plate is revoked and re-issued: the
old code stays, revoked, pointing at its replacement, so that scanning it can say what happened."""
from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from kernel.models import JobStatus
from kernel.personal import decrypt, mask_id_number

TOKEN_BYTES = 16  # 128 bits of entropy, 22 URL-safe characters


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


class Code(models.Model):
    class Kind(models.TextChoices):
        HOUSEHOLD = "household", _("household code")
        OUTDOOR = "outdoor", _("outdoor code")
        MERCHANT = "merchant", _("merchant code")
        OFFICIAL = "official", _("official code")
        STALL = "stall", _("stall code")

    class Status(models.TextChoices):
        ACTIVE = "active", _("active")
        REVOKED = "revoked", _("revoked")

    HOUSEHOLD_KINDS = (Kind.HOUSEHOLD, Kind.OUTDOOR)
    MERCHANT_KINDS = (Kind.MERCHANT, Kind.STALL)

    token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    household = models.ForeignKey("registry.Household", null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="codes")
    merchant = models.ForeignKey("registry.Merchant", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="codes")
    official = models.ForeignKey("registry.Official", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="codes")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    issued_at = models.DateTimeField(auto_now_add=True)
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    reason = models.CharField(max_length=200, blank=True, help_text="why it was revoked, e.g. door plate lost")
    replaced_by = models.OneToOneField("self", null=True, blank=True, on_delete=models.SET_NULL,
                                       related_name="replaces")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                name="code_target_matches_kind",
                condition=(Q(kind__in=["household", "outdoor"], household__isnull=False, merchant__isnull=True,
                             official__isnull=True)
                           | Q(kind__in=["merchant", "stall"], household__isnull=True, merchant__isnull=False,
                               official__isnull=True)
                           | Q(kind="official", household__isnull=True, merchant__isnull=True,
                               official__isnull=False))),
            models.CheckConstraint(
                name="code_revoked_when_revoked_at",
                condition=Q(status="active", revoked_at__isnull=True, replaced_by__isnull=True)
                | Q(status="revoked", revoked_at__isnull=False)),
            models.CheckConstraint(name="code_token_unguessable", condition=Q(token__regex=r"^[A-Za-z0-9_-]{22,64}$")),
            models.UniqueConstraint(fields=["household", "kind"], condition=Q(status="active", household__isnull=False),
                                    name="code_one_active_per_household_kind"),
            models.UniqueConstraint(fields=["merchant"], condition=Q(status="active", merchant__isnull=False),
                                    name="code_one_active_per_merchant"),
            models.UniqueConstraint(fields=["official"], condition=Q(status="active", official__isnull=False),
                                    name="code_one_active_per_official"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} …{self.token[-6:]} ({self.status})"

    @property
    def target(self):
        return self.household or self.merchant or self.official

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    @property
    def label(self) -> str:
        """What is printed under the code: the address of a household, the name of the others."""
        if self.household_id:
            return self.household.address
        if self.merchant_id:
            return self.merchant.name
        return self.official.name if self.official_id else ""


class BindingRequest(models.Model):
    """A signed-in person asks to be bound to the household whose code they scanned. Matched with the
    ledger it is approved at once; otherwise the grid worker of the household's grid decides."""

    class Status(models.TextChoices):
        PENDING = "pending", _("waiting for the grid worker")
        APPROVED = "approved", _("bound")
        REJECTED = "rejected", _("rejected")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="binding_requests")
    household = models.ForeignKey("registry.Household", on_delete=models.CASCADE, related_name="binding_requests")
    code = models.ForeignKey(Code, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                             help_text="the household code that was scanned")
    name = models.CharField(max_length=40)
    id_number_encrypted = models.TextField()
    id_number_index = models.CharField(max_length=64, db_index=True, editable=False)
    relation = models.CharField(max_length=10, default="member")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    matched = models.BooleanField(default=False, help_text="bound at once: the ledger has this person here")
    resident = models.ForeignKey("registry.Resident", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "household"], condition=Q(status="pending"),
                                    name="binding_one_pending_per_household"),
            models.CheckConstraint(name="binding_decided_when_not_pending",
                                   condition=Q(status="pending", decided_at__isnull=True)
                                   | (~Q(status="pending") & Q(decided_at__isnull=False))),
        ]

    def __str__(self) -> str:
        return f"{self.name} → {self.household_id} ({self.status})"

    @property
    def id_number_masked(self) -> str:
        return mask_id_number(decrypt(self.id_number_encrypted)) if self.id_number_encrypted else ""


class HouseholdInvite(models.Model):
    """A one-time link the household head gives a family member or tenant to join the household."""

    token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    household = models.ForeignKey("registry.Household", on_delete=models.CASCADE, related_name="invites")
    relation = models.CharField(max_length=10, default="member")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    used_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    resident = models.ForeignKey("registry.Resident", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(name="invite_relation_not_head", condition=Q(relation__in=["member", "tenant"])),
            models.CheckConstraint(name="invite_used_by_someone",
                                   condition=Q(used_at__isnull=True) | Q(used_by__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"invite to {self.household_id} ({'used' if self.used_at else 'open'})"


def new_folder() -> str:
    return secrets.token_hex(12)


def print_run_path(run: PrintRun, filename: str) -> str:
    # The default storage adds the district's own prefix (media/<schema>/...); the folder is random
    # because media URLs are not checked beyond the district: the files are downloaded through
    # the API and the staff pages, which check the area.
    return f"codes/print-runs/{run.folder}/{filename}"


class PrintRun(models.Model):
    """A community's or a street's codes as print-ready PDF sheets and a ZIP of SVGs, made by Celery."""

    Status = JobStatus

    class Scope(models.TextChoices):
        COMMUNITY = "community", _("community")
        STREET = "street", _("street")

    scope_kind = models.CharField(max_length=10, choices=Scope.choices)
    scope_code = models.CharField(max_length=20)
    scope_name = models.CharField(max_length=80, blank=True)
    kinds = ArrayField(models.CharField(max_length=10, choices=Code.Kind.choices))
    codes_per_sheet = models.PositiveSmallIntegerField(default=8)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    folder = models.CharField(max_length=32, default=new_folder, editable=False)
    pdf = models.FileField(upload_to=print_run_path, blank=True, max_length=200)
    zip = models.FileField(upload_to=print_run_path, blank=True, max_length=200)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="last sign of life of the running job (kernel.jobs)")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(name="print_run_done_le_total", condition=Q(done__lte=models.F("total"))),
            models.CheckConstraint(name="print_run_has_kinds", condition=~Q(kinds=[])),
        ]

    def __str__(self) -> str:
        return f"print run {self.pk} {self.scope_kind}:{self.scope_code} ({self.status})"

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        return int(self.done * 100 / self.total) if self.total else 0

    @property
    def kinds_display(self) -> str:
        """The kinds by name, in the reader's language: 户内码、户外码."""
        from django.utils.translation import pgettext

        names = dict(Code.Kind.choices)
        return pgettext("list separator", ", ").join(str(names.get(k, k)) for k in self.kinds)
