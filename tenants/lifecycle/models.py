"""The end of a district's life, in the public schema: its archive (with the retention period), its
exports (a job on the kernel job runner: a schema dump, its media and an Excel workbook for the
customer), the restores made from an export, and the tombstone left when a district is deleted.

The records keep the district's slug (and the export its schema name) beside the foreign key: the
District row goes when the district is deleted (its schema is dropped, and a District row without a
schema would break ``migrate_schemas``), and the FK is then set to NULL; the tombstone, the records
and the audit log keep the story."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from kernel.models import JobStatus


class DistrictArchive(models.Model):
    """A district archived for good: read-only from ``archived_at``; its schema may be deleted from
    ``delete_not_before`` (archived_at + retention_days), once a finished export exists."""

    district = models.OneToOneField("tenants.District", null=True, on_delete=models.SET_NULL,
                                    related_name="archive_record")
    slug = models.CharField(max_length=40, db_index=True)
    archived_at = models.DateTimeField()
    retention_days = models.PositiveIntegerField()
    delete_not_before = models.DateTimeField()
    reason = models.CharField(max_length=500)
    archived_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "tenants"
        ordering = ["-archived_at"]

    def __str__(self) -> str:
        return f"{self.slug} archived {self.archived_at:%Y-%m-%d}"


class DistrictExport(models.Model):
    """Everything a district owns, exported by a job (kernel.jobs): ``dump`` (pg_dump -Fc of its schema,
    restorable under another slug), ``media`` (its uploaded files, .tar.gz) and ``workbook`` (people,
    cases, points and ratings in Excel for the customer, phones and ID numbers masked). Files are kept
    under settings.DISTRICT_EXPORT_ROOT (never under public media) with their SHA-256 and size."""

    class Step(models.TextChoices):
        WAITING = "waiting", _("waiting")
        DUMP = "dump", _("schema dump")
        MEDIA = "media", _("uploaded files")
        WORKBOOK = "workbook", _("Excel workbook")
        DONE = "done", _("done")

    FILES = ("dump", "media", "workbook")

    district = models.ForeignKey("tenants.District", null=True, on_delete=models.SET_NULL, related_name="exports")
    slug = models.CharField(max_length=40, db_index=True)
    schema_name = models.CharField(max_length=63)
    reason = models.CharField(max_length=500)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    status = models.CharField(max_length=8, choices=JobStatus.choices, default=JobStatus.QUEUED)
    step = models.CharField(max_length=10, choices=Step.choices, default=Step.WAITING)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # What the dump holds, read in the same snapshot as the dump: {table: rows} and the migrations.
    row_counts = models.JSONField(default=dict, blank=True)
    migrations = models.JSONField(default=list, blank=True)
    # Files: path relative to DISTRICT_EXPORT_ROOT, SHA-256 (hex) and size in bytes.
    dump_path = models.CharField(max_length=300, blank=True)
    dump_sha256 = models.CharField(max_length=64, blank=True)
    dump_size = models.BigIntegerField(null=True, blank=True)
    media_path = models.CharField(max_length=300, blank=True)
    media_sha256 = models.CharField(max_length=64, blank=True)
    media_size = models.BigIntegerField(null=True, blank=True)
    workbook_path = models.CharField(max_length=300, blank=True)
    workbook_sha256 = models.CharField(max_length=64, blank=True)
    workbook_size = models.BigIntegerField(null=True, blank=True)

    class Meta:
        app_label = "tenants"
        ordering = ["-created_at", "-id"]
        constraints = [
            # one export at a time per district: a second request gets the one under way
            models.UniqueConstraint(fields=["district"], condition=models.Q(status__in=["queued", "running"]),
                                    name="lifecycle_one_export_under_way"),
        ]

    def __str__(self) -> str:
        return f"export #{self.pk} of {self.slug} ({self.status})"

    @property
    def is_done(self) -> bool:
        return self.status == JobStatus.DONE

    def file_info(self, kind: str) -> dict | None:
        path = getattr(self, f"{kind}_path")
        if not path:
            return None
        return {"kind": kind, "path": path, "sha256": getattr(self, f"{kind}_sha256"),
                "size": getattr(self, f"{kind}_size")}


class DistrictRestore(models.Model):
    """A new district made from an export (new slug and schema; status active, not live)."""

    export = models.ForeignKey(DistrictExport, on_delete=models.PROTECT, related_name="restores")
    district = models.ForeignKey("tenants.District", null=True, on_delete=models.SET_NULL, related_name="+")
    slug = models.CharField(max_length=40)
    reason = models.CharField(max_length=500)
    restored_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    seconds = models.FloatField(default=0)
    timings = models.JSONField(default=dict, blank=True, help_text="seconds per step of the restore")
    caught_up = models.JSONField(default=list, blank=True, help_text="migrations applied after the restore")

    class Meta:
        app_label = "tenants"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.slug} from export #{self.export_id}"


class DistrictTombstone(models.Model):
    """What is left of a deleted district: who it was, when it was archived and deleted, why, and the
    export that was kept. The schema, its domains and its District row are gone."""

    slug = models.CharField(max_length=40, db_index=True)
    name_zh = models.CharField(max_length=80)
    name_en = models.CharField(max_length=80, blank=True)
    schema_name = models.CharField(max_length=63)
    domains = models.JSONField(default=list)
    vendor = models.ForeignKey("tenants.Vendor", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    district_id_was = models.BigIntegerField()
    created_at_was = models.DateTimeField(null=True, blank=True)
    archive = models.OneToOneField(DistrictArchive, null=True, on_delete=models.SET_NULL, related_name="tombstone")
    export = models.ForeignKey(DistrictExport, null=True, on_delete=models.SET_NULL, related_name="+")
    deleted_at = models.DateTimeField()
    deleted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    reason = models.CharField(max_length=500)

    class Meta:
        app_label = "tenants"
        ordering = ["-deleted_at"]

    def __str__(self) -> str:
        return f"{self.name_zh} ({self.slug}) deleted {self.deleted_at:%Y-%m-%d}"
