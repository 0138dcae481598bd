"""Reads of the end of a district's life: what the console page and the API list."""
from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from kernel.models import JobStatus
from tenants.access import districts_for
from tenants.lifecycle.models import DistrictArchive, DistrictExport, DistrictRestore, DistrictTombstone
from tenants.models import District


def lifecycle_districts(user) -> QuerySet:
    """Districts ``user`` may see that are archived or have an export (the lifecycle page's list)."""
    has_export = Exists(DistrictExport.objects.filter(district=OuterRef("pk")))
    return (districts_for(user).annotate(has_export=has_export)
            .filter(Q(status=District.Status.ARCHIVED) | Q(has_export=True))
            .select_related("archive_record"))


def exports_of(district: District) -> QuerySet:
    return DistrictExport.objects.filter(district=district).select_related("requested_by").order_by("-created_at")


def restores_of(district: District) -> QuerySet:
    return (DistrictRestore.objects.filter(export__district=district).select_related("export", "district")
            .order_by("-created_at"))


def tombstones() -> QuerySet:
    return DistrictTombstone.objects.select_related("vendor", "export").order_by("-deleted_at")


def due_for_deletion(now=None) -> list[District]:
    """Archived districts past their retention that have a finished export made after archiving: what
    the daily job lists for platform staff. Deleting one stays an explicit, confirmed action."""
    now = now or timezone.now()
    finished = DistrictExport.objects.filter(district=OuterRef("district"), status=JobStatus.DONE,
                                             started_at__gte=OuterRef("archived_at")).exclude(dump_path="")
    records = (DistrictArchive.objects.filter(district__status=District.Status.ARCHIVED, delete_not_before__lte=now,
                                              deleted_at__isnull=True)
               .filter(Exists(finished)).select_related("district").order_by("delete_not_before"))
    return [r.district for r in records]


@dataclass
class Lifecycle:
    """One district's end-of-life state, as the page and the API show it."""

    district: District
    archive: DistrictArchive | None
    exports: list[DistrictExport]
    restores: list[DistrictRestore]
    deletable: bool
    why_not_deletable: str | None

    @property
    def running(self) -> bool:
        return any(e.status in (JobStatus.QUEUED, JobStatus.RUNNING) for e in self.exports)


def lifecycle_of(district: District) -> Lifecycle:
    from tenants.lifecycle.services import archive_record, why_not_deletable

    record = archive_record(district) if district.status == District.Status.ARCHIVED else (
        DistrictArchive.objects.filter(district=district).first())
    why = why_not_deletable(district)
    return Lifecycle(district=district, archive=record, exports=list(exports_of(district)[:20]),
                     restores=list(restores_of(district)[:20]), deletable=why is None, why_not_deletable=why)
