"""The District (tenant) and its domains. Lives in the public schema."""
from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_tenants.models import DomainMixin, TenantMixin

HEX_COLOR = RegexValidator(r"^#[0-9a-fA-F]{6}$", _("Use a colour like #1f6feb."))
SLUG = RegexValidator(r"^[a-z][a-z0-9-]{1,39}$", _("2–40 lower-case letters, digits or '-', starting with a letter."))


class Vendor(models.Model):
    """A partner company that sells and rolls out the platform: it files applications for new
    districts and sees only its own applications, districts and invoices (tenants.access)."""

    slug = models.CharField(max_length=40, unique=True, validators=[SLUG])
    name_zh = models.CharField(max_length=120)
    name_en = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name_zh


class PlatformMembership(models.Model):
    """A public-site role of a platform user: ops (platform staff, see everything), finance (billing),
    or vendor (of one Vendor: only its own applications and districts). Checked by tenants.access."""

    class Role(models.TextChoices):
        OPS = "ops", _("platform staff")
        FINANCE = "finance", _("finance")
        VENDOR = "vendor", _("vendor")

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="platform_memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    vendor = models.ForeignKey(Vendor, null=True, blank=True, on_delete=models.CASCADE, related_name="members")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user_id", "role"]
        constraints = [
            models.CheckConstraint(condition=models.Q(role="vendor", vendor__isnull=False)
                                   | (~models.Q(role="vendor") & models.Q(vendor__isnull=True)),
                                   name="membership_vendor_iff_vendor_role"),
            models.UniqueConstraint(fields=["user", "role", "vendor"], name="membership_unique",
                                    nulls_distinct=False),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.role}" + (f" · {self.vendor}" if self.vendor_id else "")


class District(TenantMixin):
    class Status(models.TextChoices):
        SPARE = "spare", _("spare (pool)")
        PROVISIONING = "provisioning", _("provisioning")
        ACTIVE = "active", _("active")
        PAST_DUE = "past_due", _("past due")
        SUSPENDED = "suspended", _("suspended")
        ARCHIVED = "archived", _("archived")

    # Statuses in which the district's site and API answer.
    SERVING = (Status.ACTIVE, Status.PAST_DUE)

    slug = models.CharField(max_length=40, unique=True, validators=[SLUG])
    name_zh = models.CharField(max_length=80)
    name_en = models.CharField(max_length=80, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PROVISIONING)
    modules = ArrayField(models.CharField(max_length=40), default=list, blank=True)
    # Branding of the resident portal.
    title_zh = models.CharField(max_length=80, blank=True)
    title_en = models.CharField(max_length=80, blank=True)
    primary_color = models.CharField(max_length=7, default="#c62828", validators=[HEX_COLOR])
    accent_color = models.CharField(max_length=7, default="#f9a825", validators=[HEX_COLOR])
    logo = models.ImageField(upload_to="branding/", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    # The vendor that rolled the district out (None: run by the platform itself, e.g. old districts).
    vendor = models.ForeignKey(Vendor, null=True, blank=True, on_delete=models.PROTECT, related_name="districts")
    # Set by "go live" once the set-up checklist is done; until then residents see "being set up".
    live_at = models.DateTimeField(null=True, blank=True)

    auto_create_schema = True
    auto_drop_schema = False

    class Meta:
        ordering = ["slug"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    status__in=["spare", "provisioning", "active", "past_due", "suspended", "archived"]
                ),
                name="district_status_valid",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name_zh} ({self.slug})" if self.slug else self.schema_name

    @property
    def is_public(self) -> bool:
        from django_tenants.utils import get_public_schema_name

        return self.schema_name == get_public_schema_name()

    @property
    def is_serving(self) -> bool:
        return self.status in self.SERVING

    def has_module(self, key: str) -> bool:
        from modules.catalog import catalog

        spec = catalog.get(key)
        return spec is not None and (spec.always_on or key in self.modules)

    def portal_title(self, language: str | None = None) -> str:
        if language and language.startswith("en"):
            return self.title_en or self.name_en or self.title_zh or self.name_zh
        return self.title_zh or self.name_zh

    @property
    def primary_domain(self) -> str | None:
        domain = self.domains.filter(is_primary=True).first()
        return domain.domain if domain else None


class Domain(DomainMixin):
    class Meta:
        ordering = ["domain"]

# Release runs (tenants/releases): models of this app, kept in their own module.
from tenants.releases.models import ReleaseOutcome, ReleaseRun  # noqa: E402, F401
