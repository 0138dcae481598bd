"""The district's places and people: Street → Community → Grid → Compound → Building → Household,
residents bound to households, officials, merchants and departments.

Personal numbers (ID number, phone) are stored encrypted with a keyed hash beside them (blind
index) for exact lookups; the masked form shown to most roles is derived, never stored in clear."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from kernel.personal import decrypt, mask_id_number, mask_phone


class Department(models.Model):
    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=80)
    is_sector = models.BooleanField(default=False, help_text="its staff work as sector grid workers")

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Street(models.Model):
    code = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=80)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Community(models.Model):
    code = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=80)
    street = models.ForeignKey(Street, on_delete=models.PROTECT, related_name="communities")
    police_contact = models.CharField(max_length=80, blank=True, help_text="community police officer and phone")

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "communities"

    def __str__(self) -> str:
        return self.name


class Grid(models.Model):
    code = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=80)
    community = models.ForeignKey(Community, on_delete=models.PROTECT, related_name="grids")
    worker = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="owned_grids", help_text="the full-time grid worker who owns it")
    # The grid's duty number, published to residents at the outdoor code (a work phone the district
    # gives out, like the community police's; not the worker's own number, which stays personal).
    # db_default: code that does not know the column yet (a rolling deploy, a raw INSERT) still inserts.
    duty_phone = models.CharField(max_length=40, blank=True, default="", db_default="",
                                  help_text="duty number residents may call")

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class Compound(models.Model):
    code = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=80)
    community = models.ForeignKey(Community, on_delete=models.PROTECT, related_name="compounds")
    grid = models.ForeignKey(Grid, on_delete=models.PROTECT, related_name="compounds")
    property_company = models.CharField(max_length=80, blank=True)
    property_contact = models.CharField(max_length=80, blank=True, help_text="property manager and phone")

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Building(models.Model):
    compound = models.ForeignKey(Compound, on_delete=models.PROTECT, related_name="buildings")
    number = models.CharField(max_length=20, help_text="e.g. 3 (3号楼)")
    grid = models.ForeignKey(Grid, on_delete=models.PROTECT, related_name="buildings")

    class Meta:
        ordering = ["compound_id", "number"]
        constraints = [models.UniqueConstraint(fields=["compound", "number"], name="building_unique_in_compound")]

    def __str__(self) -> str:
        return f"{self.compound.name}{self.number}号楼"


class Household(models.Model):
    building = models.ForeignKey(Building, on_delete=models.PROTECT, related_name="households")
    unit = models.CharField(max_length=10, blank=True, help_text="单元, e.g. 2")
    room = models.CharField(max_length=20, help_text="e.g. 301")
    grid = models.ForeignKey(Grid, on_delete=models.PROTECT, related_name="households")
    registered_size = models.PositiveSmallIntegerField(null=True, blank=True,
                                                       help_text="people the dwelling is registered for")

    class Meta:
        ordering = ["building_id", "unit", "room"]
        constraints = [models.UniqueConstraint(fields=["building", "unit", "room"], name="household_unique")]

    def __str__(self) -> str:
        return self.address

    @property
    def address(self) -> str:
        unit = f"{self.unit}单元" if self.unit else ""
        return f"{self.building}{unit}{self.room}室"


class Resident(models.Model):
    class Gender(models.TextChoices):
        MALE = "m", _("male")
        FEMALE = "f", _("female")

    name = models.CharField(max_length=40)
    id_number_encrypted = models.TextField(blank=True)
    id_number_index = models.CharField(max_length=64, null=True, blank=True, editable=False)
    phone_encrypted = models.TextField(blank=True)
    phone_index = models.CharField(max_length=64, null=True, blank=True, editable=False, db_index=True)
    gender = models.CharField(max_length=1, choices=Gender.choices, blank=True)
    birth_date = models.DateField(null=True, blank=True)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="resident")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["id_number_index"], condition=Q(id_number_index__isnull=False),
                                               name="resident_id_number_unique")]
        indexes = [models.Index(fields=["name", "birth_date"], name="resident_name_birth")]

    def __str__(self) -> str:
        return self.name

    @property
    def id_number(self) -> str:
        return decrypt(self.id_number_encrypted) if self.id_number_encrypted else ""

    @property
    def id_number_masked(self) -> str:
        return mask_id_number(self.id_number) if self.id_number_encrypted else ""

    @property
    def phone(self) -> str:
        return decrypt(self.phone_encrypted) if self.phone_encrypted else ""

    @property
    def phone_masked(self) -> str:
        return mask_phone(self.phone) if self.phone_encrypted else ""


class Membership(models.Model):
    """A resident bound to a household. One person should have one current household; the data
    audit finds those with two."""

    class Relation(models.TextChoices):
        HEAD = "head", _("household head")
        MEMBER = "member", _("member")
        TENANT = "tenant", _("tenant")

    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="memberships")
    household = models.ForeignKey(Household, on_delete=models.CASCADE, related_name="memberships")
    relation = models.CharField(max_length=10, choices=Relation.choices, default=Relation.MEMBER)
    since = models.DateField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["household_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["resident", "household"], condition=Q(ended_at__isnull=True),
                                    name="membership_current_unique"),
            models.UniqueConstraint(fields=["household"], condition=Q(ended_at__isnull=True, relation="head"),
                                    name="membership_one_head"),
        ]
        indexes = [models.Index(fields=["resident"], condition=Q(ended_at__isnull=True), name="membership_current")]

    def __str__(self) -> str:
        return f"{self.resident} @ {self.household} ({self.relation})"


class Official(models.Model):
    name = models.CharField(max_length=40)
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="officials")
    post = models.CharField(max_length=80)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="official")
    phone_encrypted = models.TextField(blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["department_id", "name"]

    def __str__(self) -> str:
        return f"{self.name}（{self.department.name} {self.post}）"


class Merchant(models.Model):
    class Kind(models.TextChoices):
        SHOP = "shop", _("shop")
        STALL = "stall", _("mobile stall")

    name = models.CharField(max_length=80)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.SHOP)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="merchants")
    license_number = models.CharField(max_length=40, blank=True)
    address = models.CharField(max_length=160, blank=True)
    grid = models.ForeignKey(Grid, null=True, blank=True, on_delete=models.SET_NULL, related_name="merchants")
    licensed_place = models.CharField(max_length=160, blank=True, help_text="stalls: where they may trade")
    licensed_hours = models.CharField(max_length=80, blank=True, help_text="stalls: when, e.g. 17:00–22:00")
    phone_encrypted = models.TextField(blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=~Q(kind="stall") | ~Q(licensed_place=""), name="stall_has_place"),
        ]

    def __str__(self) -> str:
        return self.name


# Ledger imports and data audits keep their tables in models_ledger.py.
from modules.registry.models_ledger import *  # noqa: E402,F401,F403
