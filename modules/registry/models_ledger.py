"""Tables of ledger imports (台账导入) and data audits (数据核查).

A ledger import is a job with one row per data line of the uploaded file. The uploaded file, the
rejected-rows workbook and each row's cells hold ID and phone numbers in clear, so they are stored
encrypted (the files under the district's media prefix, the cells in ``LedgerRow.data_encrypted``);
problems are stored as codes and words that never contain a personal number.

A data-audit finding is one problem in the registry (identified by ``kind`` + ``key``), tracked
across runs: a later run that no longer finds it closes it, one that still finds a "fixed" one
reopens it, and a dismissed one stays dismissed."""
from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from kernel.models import JobStatus

__all__ = ["ImportJob", "LedgerRow", "AuditRun", "Finding"]


def _ledger_path(instance, filename: str) -> str:
    # Unguessable, and no part of the staff's file name: the media prefix is the district's, the
    # content is encrypted (see modules.registry.ledger.seal).
    return f"registry/ledger/{secrets.token_hex(16)}.bin"


class ImportJob(models.Model):
    """One uploaded ledger file: a dry run (phase ``check``), then, once confirmed, the import."""

    class Phase(models.TextChoices):
        CHECK = "check", _("dry run")
        IMPORT = "import", _("import")

    Status = JobStatus

    class Format(models.TextChoices):
        XLSX = "xlsx", "Excel (.xlsx)"
        CSV = "csv", "CSV"

    file = models.FileField(upload_to=_ledger_path, help_text="the uploaded file, encrypted")
    original_name = models.CharField(max_length=200)
    file_format = models.CharField(max_length=4, choices=Format.choices)
    file_sha256 = models.CharField(max_length=64, db_index=True, help_text="of the uploaded bytes")
    encoding = models.CharField(max_length=20, blank=True, help_text="CSV: the text encoding found")
    columns = models.JSONField(default=list, help_text="the file's header cells, in order")
    mapping = models.JSONField(default=dict, help_text="field -> column position")
    sheet_index = models.PositiveSmallIntegerField(default=0, help_text="xlsx: the worksheet holding the ledger")
    header_line = models.PositiveIntegerField(default=1)

    phase = models.CharField(max_length=8, choices=Phase.choices, default=Phase.CHECK)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    error = models.TextField(blank=True)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)

    total_rows = models.PositiveIntegerField(default=0)
    valid_count = models.PositiveIntegerField(default=0, help_text="rows that can be imported")
    rejected_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0, help_text="already registered there: nothing to do")
    imported_count = models.PositiveIntegerField(default=0)
    households_created = models.PositiveIntegerField(default=0)
    problem_counts = models.JSONField(default=dict, help_text="problem code -> rows")
    rejected_file = models.FileField(upload_to=_ledger_path, null=True, blank=True,
                                     help_text="rejected rows with a reason column (.xlsx), encrypted")

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="last sign of life of the running job (kernel.jobs)")
    checked_at = models.DateTimeField(null=True, blank=True)
    confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    confirmed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(phase="check") | Q(confirmed_at__isnull=False),
                                   name="import_job_confirmed_before_import"),
        ]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.get_phase_display()}, {self.get_status_display()})"

    @property
    def dry_run(self) -> bool:
        return self.phase == self.Phase.CHECK

    @property
    def percent(self) -> int:
        return int(100 * self.progress_done / self.progress_total) if self.progress_total else (
            100 if self.status == self.Status.DONE else 0)


class LedgerRow(models.Model):
    """One data line of an uploaded ledger and what the dry run / import made of it."""

    class Status(models.TextChoices):
        VALID = "valid", _("valid")
        REJECTED = "rejected", _("rejected")
        UNCHANGED = "unchanged", _("already registered")
        IMPORTED = "imported", _("imported")

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="rows")
    line = models.PositiveIntegerField(help_text="line in the file (1 = first line)")
    status = models.CharField(max_length=10, choices=Status.choices)
    problems = models.JSONField(default=list, help_text="[{field, column, code, zh, en}], no personal numbers")
    data_encrypted = models.TextField(help_text="the row's cells as typed (JSON list), encrypted")
    resident = models.ForeignKey("registry.Resident", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    household = models.ForeignKey("registry.Household", null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")

    class Meta:
        ordering = ["job_id", "line"]
        constraints = [models.UniqueConstraint(fields=["job", "line"], name="ledger_row_unique_line")]
        indexes = [models.Index(fields=["job", "status", "line"], name="ledger_row_status")]

    def __str__(self) -> str:
        return f"job {self.job_id} line {self.line}: {self.status}"


FINDING_KINDS = ("invalid_id", "duplicate_person", "two_households", "over_capacity", "no_household")


class AuditRun(models.Model):
    """One pass of the data audit over the whole district, with how many problems of each kind it
    found (dismissed findings are not counted: a grid worker said they are not problems)."""

    Status = JobStatus

    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="last sign of life of the running job (kernel.jobs)")
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    residents_checked = models.PositiveIntegerField(default=0)
    households_checked = models.PositiveIntegerField(default=0)
    invalid_id = models.PositiveIntegerField(default=0)
    duplicate_person = models.PositiveIntegerField(default=0)
    two_households = models.PositiveIntegerField(default=0)
    over_capacity = models.PositiveIntegerField(default=0)
    no_household = models.PositiveIntegerField(default=0)
    new_findings = models.PositiveIntegerField(default=0)
    closed_findings = models.PositiveIntegerField(default=0, help_text="open findings this run no longer found")
    reopened_findings = models.PositiveIntegerField(default=0, help_text="marked fixed, but still found")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"audit run {self.pk} ({self.status})"

    @property
    def counts(self) -> dict[str, int]:
        return {kind: getattr(self, kind) for kind in FINDING_KINDS}

    @property
    def total(self) -> int:
        return sum(self.counts.values())


class Finding(models.Model):
    """One problem the audit found, routed to the grid worker of its grid."""

    class Kind(models.TextChoices):
        INVALID_ID = "invalid_id", _("invalid ID number")
        DUPLICATE_PERSON = "duplicate_person", _("duplicate person")
        TWO_HOUSEHOLDS = "two_households", _("bound to two households")
        OVER_CAPACITY = "over_capacity", _("more residents than the dwelling is registered for")
        NO_HOUSEHOLD = "no_household", _("resident with no household")

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        CONFIRMED = "confirmed", _("confirmed")
        FIXED = "fixed", _("fixed")
        DISMISSED = "dismissed", _("dismissed")

    run = models.ForeignKey(AuditRun, on_delete=models.PROTECT, related_name="findings",
                            help_text="the run that first found it")
    last_run = models.ForeignKey(AuditRun, on_delete=models.PROTECT, related_name="+",
                                 help_text="the latest run that still found it")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    key = models.CharField(max_length=64, help_text="what it is about (ids), unique per kind")
    resident = models.ForeignKey("registry.Resident", null=True, blank=True, on_delete=models.CASCADE,
                                 related_name="audit_findings")
    other_resident = models.ForeignKey("registry.Resident", null=True, blank=True, on_delete=models.CASCADE,
                                       related_name="+", help_text="duplicate_person: the other record")
    household = models.ForeignKey("registry.Household", null=True, blank=True, on_delete=models.CASCADE,
                                  related_name="audit_findings")
    grid = models.ForeignKey("registry.Grid", null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="audit_findings", help_text="whose grid worker handles it")
    details = models.JSONField(default=dict, help_text="codes and ids; no personal numbers")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    note = models.TextField(blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-last_run_id", "kind", "id"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "key"], name="finding_unique_issue"),
            models.CheckConstraint(condition=Q(kind__in=list(FINDING_KINDS)), name="finding_kind_known"),
            models.CheckConstraint(condition=Q(status="open") | Q(resolved_at__isnull=False),
                                   name="finding_resolved_when_handled"),
        ]
        indexes = [models.Index(fields=["grid", "status"], name="finding_grid_status"),
                   models.Index(fields=["status", "kind"], name="finding_status_kind")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.status})"
