"""Roles a person can hold in a district, and the scopes they hold them in."""
from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    DISTRICT_ADMIN = "district_admin", _("district administrator")
    COMMUNITY_STAFF = "community_staff", _("community staff")
    GRID_WORKER = "grid_worker", _("grid worker (full-time)")
    GRID_WORKER_PART_TIME = "grid_worker_part_time", _("grid worker (part-time)")
    GRID_WORKER_SECTOR = "grid_worker_sector", _("grid worker (sector)")
    MEDIATOR = "mediator", _("mediator")
    COMMITTEE_MEMBER = "committee_member", _("points committee member")
    MERCHANT = "merchant", _("merchant")
    OFFICIAL = "official", _("official")
    RESIDENT = "resident", _("resident")


GRID_WORKERS = (Role.GRID_WORKER, Role.GRID_WORKER_PART_TIME, Role.GRID_WORKER_SECTOR)
STAFF_ROLES = (Role.DISTRICT_ADMIN, Role.COMMUNITY_STAFF, *GRID_WORKERS, Role.MEDIATOR, Role.COMMITTEE_MEMBER)


class ScopeKind(models.TextChoices):
    """Where a role applies. The place hierarchy runs district > street > community > grid."""

    DISTRICT = "district", _("whole district")
    STREET = "street", _("street")
    COMMUNITY = "community", _("community")
    GRID = "grid", _("grid")
    DEPARTMENT = "department", _("department")
