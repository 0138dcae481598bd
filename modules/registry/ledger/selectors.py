"""Reads of ledger jobs."""
from __future__ import annotations

from django.db.models import Q

from kernel.permissions import has_role
from kernel.roles import Role
from modules.registry.models import ImportJob, LedgerRow


def jobs_for(user):
    qs = ImportJob.objects.select_related("created_by")
    if has_role(user, Role.DISTRICT_ADMIN):
        return qs
    return qs.filter(Q(created_by=user) | Q(confirmed_by=user))


def rows_of(job: ImportJob, *, status: str | None = None):
    qs = LedgerRow.objects.filter(job=job).order_by("line")
    if status:
        qs = qs.filter(status__in=status.split(","))
    return qs


def same_file_jobs(job: ImportJob):
    """Earlier imports of exactly the same file (shown as a hint; the import itself is idempotent)."""
    return ImportJob.objects.filter(file_sha256=job.file_sha256, phase=ImportJob.Phase.IMPORT).exclude(pk=job.pk)
