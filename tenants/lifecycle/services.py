"""Writes of the end of a district's life: archive, export, restore, delete (docs/lifecycle.md).

Each takes the acting person and a reason (``tenants.services.require_reason``), runs in one
transaction with its audit entry (kernel.audit, public schema: the district's own schema may be gone
later), and raises kernel.errors domain errors in words. The pages and the API ask for a confirmation
before they call these."""
from __future__ import annotations

import datetime as dt
import logging
import shutil
import tarfile
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tenants.utils import schema_exists

from kernel import audit, jobs
from kernel.errors import Conflict, DomainError
from kernel.models import JobStatus
from tenants.lifecycle import pg
from tenants.lifecycle.exports import EXPORT_TASK, file_path
from tenants.lifecycle.models import DistrictArchive, DistrictExport, DistrictRestore, DistrictTombstone
from tenants.models import District, Domain
from tenants.services import _validate_new, missing_migrations, require_reason, schema_name_for, set_status

log = logging.getLogger(__name__)

MAX_RETENTION_DAYS = 3650


def default_retention_days() -> int:
    return int(getattr(settings, "DISTRICT_RETENTION_DAYS", 180))


def _retention(days) -> int:
    if days is None or days == "":
        return default_retention_days()
    try:
        days = int(days)
    except (TypeError, ValueError):
        days = -1
    if not 1 <= days <= MAX_RETENTION_DAYS:
        message = _("Keep an archived district from 1 to %(max)d days.") % {"max": MAX_RETENTION_DAYS}
        raise DomainError(message, code="bad_retention", fields={"retention_days": [message]})
    return days


# --- archive ----------------------------------------------------------------------------------------

def archive_district(*, actor, district: District, reason: str, retention_days: int | None = None) -> DistrictArchive:
    """Archive a district (read-only for its staff, a notice for residents: tenants.middleware) and
    record its retention: the schema may be deleted from archived_at + retention_days, and only once
    a finished export exists."""
    reason = require_reason(reason)
    days = _retention(retention_days)
    with transaction.atomic():
        district = set_status(actor=actor, district=district, status=District.Status.ARCHIVED, reason=reason)
        archived_at = district.status_changed_at or timezone.now()
        record, _made = DistrictArchive.objects.update_or_create(
            district=district, defaults=dict(
                slug=district.slug, archived_at=archived_at, retention_days=days,
                delete_not_before=archived_at + dt.timedelta(days=days), reason=reason,
                archived_by=actor if getattr(actor, "pk", None) else None))
        audit.record(actor=actor, action="lifecycle.archive", target=district,
                     after={"slug": district.slug, "retention_days": days,
                            "delete_not_before": record.delete_not_before.isoformat(), "reason": reason})
    return record


def archive_record(district: District) -> DistrictArchive | None:
    """The district's archive record; for a district archived by a plain status change (the console's
    status form), one is made now from its status change time and the default retention."""
    record = DistrictArchive.objects.filter(district=district).first()
    if record is None and district.status == District.Status.ARCHIVED:
        archived_at = district.status_changed_at or timezone.now()
        days = default_retention_days()
        record, _made = DistrictArchive.objects.get_or_create(district=district, defaults=dict(
            slug=district.slug, archived_at=archived_at, retention_days=days,
            delete_not_before=archived_at + dt.timedelta(days=days),
            reason="(archived by a status change)"))
    return record


# --- export -----------------------------------------------------------------------------------------

def request_export(*, actor, district: District, reason: str) -> DistrictExport:
    """Export everything the district owns (a job: dump, media, workbook). A district that already
    has an export under way gets that one back: a repeated request never makes two."""
    reason = require_reason(reason)
    if district.is_public or district.status in (District.Status.SPARE, District.Status.PROVISIONING):
        raise Conflict(_("Only a district in service or archived can be exported."), code="not_exportable")
    under_way = DistrictExport.objects.filter(district=district, status__in=[JobStatus.QUEUED, JobStatus.RUNNING])
    existing = under_way.first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            export = DistrictExport.objects.create(district=district, slug=district.slug,
                                                   schema_name=district.schema_name, reason=reason,
                                                   requested_by=actor if getattr(actor, "pk", None) else None)
            audit.record(actor=actor, action="lifecycle.export.request", target=export,
                         after={"slug": district.slug, "reason": reason})
            jobs.queue(EXPORT_TASK, export.pk)
    except IntegrityError:  # another request made one at the same moment (lifecycle_one_export_under_way)
        return under_way.get()
    return export


# --- restore ----------------------------------------------------------------------------------------

def _extract_media(export: DistrictExport, schema: str) -> None:
    source = file_path(export, "media")
    if source is None or not source.exists():
        return
    target = Path(settings.MEDIA_ROOT) / schema
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(source, "r:gz") as tar:
        tar.extractall(target, filter="data")  # the data filter refuses absolute paths, links out, devices


def _drop_schema(schema: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{pg.check_schema_name(schema)}" CASCADE')


def restore_export(*, actor, export: DistrictExport, slug: str, domain: str | None = None, reason: str,
                   name_zh: str = "", name_en: str = "") -> District:
    """Make a new district from an export: a new slug and schema, status active, not live (residents
    see "being set up" until someone goes live). The original district is untouched.

    The dump names its schema; to restore it under another name without touching the original, it is
    restored into a scratch database made for the purpose, renamed there (ALTER SCHEMA … RENAME),
    dumped again and restored into this database; the scratch database is dropped whatever happens.
    Migrations the code has and the dump lacks are applied afterwards; a dump with migrations this
    code does not know (made by newer code) is refused."""
    reason = require_reason(reason)
    started = time.perf_counter()
    connection.set_schema_to_public()
    if export.status != JobStatus.DONE or not export.dump_path:
        raise Conflict(_("This export is not finished: restore it once it is done."), code="export_not_done")
    dump = file_path(export, "dump")
    if dump is None or not dump.exists():
        raise Conflict(_("The export's dump file is missing."), code="export_file_missing")
    slug = (slug or "").strip().lower()
    domain = (domain or f"{slug}.{settings.DISTRICT_DOMAIN_SUFFIX}").strip().lower()
    _validate_new(slug, domain)
    schema = schema_name_for(slug)
    if schema_exists(schema, case_sensitive=False):
        message = _("A schema of this name already exists.")
        raise Conflict(f"slug: {message}", fields={"slug": [message]})
    source = District.objects.filter(pk=export.district_id).first()
    timings: dict[str, float] = {}

    def lap(name: str, since: float) -> float:
        now = time.perf_counter()
        timings[name] = round(now - since, 3)
        return now

    t = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mashang-restore-") as tmp:
        renamed = Path(tmp) / "renamed.dump"
        with pg.scratch_database() as scratch:
            t = lap("scratch_create", t)
            pg.restore_dump(dump, dbname=scratch)
            t = lap("scratch_restore", t)
            pg.rename_schema_in(scratch, export.schema_name, schema)
            pg.dump_schema(schema, renamed, dbname=scratch)
            t = lap("rename_and_dump", t)
        t = lap("scratch_drop", t)
        pg.restore_dump(renamed)
        t = lap("restore", t)
    try:
        unknown = _unknown_migrations(schema)
        if unknown:
            raise Conflict(_("The dump was made by newer code (migrations %(m)s): deploy that code first.")
                           % {"m": ", ".join(f"{a}.{n}" for a, n in sorted(unknown)[:5])}, code="dump_too_new")
        missing = sorted(missing_migrations(schema))
        if missing:
            from django.core.management import call_command

            log.warning("restored schema %s was behind on migrations; migrating it now", schema)
            call_command("migrate_schemas", schema_name=schema, interactive=False, verbosity=0)
            connection.set_schema_to_public()
        t = lap("migrations", t)
        _extract_media(export, schema)
        t = lap("media", t)
        now = timezone.now()
        fields = dict(name_zh=name_zh or (source.name_zh if source else export.slug),
                      name_en=name_en or (source.name_en if source else ""))
        if source is not None:
            fields.update(modules=list(source.modules), title_zh=source.title_zh, title_en=source.title_en,
                          primary_color=source.primary_color, accent_color=source.accent_color,
                          logo=source.logo.name or "", vendor=source.vendor)
        with transaction.atomic():
            district = District(schema_name=schema, slug=slug, status=District.Status.ACTIVE,
                                status_changed_at=now, live_at=None, **fields)
            district.save(verbosity=0)  # the schema exists: django-tenants neither creates nor migrates it
            Domain.objects.create(domain=domain, tenant=district, is_primary=True)
            restore = DistrictRestore.objects.create(
                export=export, district=district, slug=slug, reason=reason,
                restored_by=actor if getattr(actor, "pk", None) else None,
                seconds=time.perf_counter() - started, caught_up=[list(m) for m in missing], timings=timings)
            audit.record(actor=actor, action="lifecycle.restore", target=district,
                         after={"slug": slug, "domain": domain, "from_export": export.pk, "from_slug": export.slug,
                                "caught_up": len(missing), "reason": reason, "restore": restore.pk})
    except BaseException:
        _drop_schema(schema)
        shutil.rmtree(Path(settings.MEDIA_ROOT) / schema, ignore_errors=True)
        raise
    return district


def _unknown_migrations(schema: str) -> set[tuple[str, str]]:
    from django.db.migrations.loader import MigrationLoader

    known = set(MigrationLoader(None, ignore_no_migrations=True).graph.nodes)
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT app, name FROM "{pg.check_schema_name(schema)}".django_migrations')
        return set(cursor.fetchall()) - known


# --- delete after retention ---------------------------------------------------------------------------

def deletable_export(district: District, record: DistrictArchive | None) -> DistrictExport | None:
    """The newest finished export made after the district was archived (so it holds its last state)."""
    if record is None:
        return None
    return (DistrictExport.objects.filter(district=district, status=JobStatus.DONE,
                                          started_at__gte=record.archived_at)
            .exclude(dump_path="").order_by("-finished_at").first())


def why_not_deletable(district: District, *, now=None) -> str | None:
    """Why the district cannot be deleted now, in words, or None when it can."""
    now = now or timezone.now()
    if district.status != District.Status.ARCHIVED:
        return _("Only an archived district can be deleted: archive it first.")
    record = archive_record(district)
    if now < record.delete_not_before:
        return _("The retention period runs until %(when)s: it cannot be deleted before.") % {
            "when": timezone.localtime(record.delete_not_before).strftime("%Y-%m-%d %H:%M")}
    if deletable_export(district, record) is None:
        return _("There is no finished export made after archiving: export it first.")
    if DistrictExport.objects.filter(district=district, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).exists():
        return _("An export is under way: wait until it is finished.")
    return None


def _run_before_delete_hooks(*, actor, district: District, reason: str) -> None:
    """What other apps settle first (kernel.lifecycle_hooks, e.g. billing cancels the Stripe
    subscription). Called inside the delete's transaction with the district locked, after the deletion
    was found allowed: a hook that refuses stops the delete, and its own writes roll back with it."""
    from kernel.lifecycle_hooks import before_delete_hooks

    for hook in before_delete_hooks():
        try:
            hook(actor=actor, district=district, reason=reason)
        except DomainError as exc:
            raise Conflict(_("The district was not deleted: %(why)s") % {"why": exc.message},
                           code="before_delete_refused") from exc


def delete_district(*, actor, district: District, reason: str) -> DistrictTombstone:
    """Delete an archived district past its retention, that has a finished export made after it was
    archived: its schema is dropped (DROP SCHEMA … CASCADE), its domains and District row removed,
    and a tombstone kept with the audit trail. One transaction: PostgreSQL drops a schema
    transactionally, so a failure leaves the district whole. Its uploaded files go after the commit.
    Before the drop, the before-delete hooks of other apps run (billing cancels the subscription in
    Stripe first: if Stripe refuses, nothing is deleted)."""
    reason = require_reason(reason)
    connection.set_schema_to_public()
    with transaction.atomic():
        district = District.objects.select_for_update().get(pk=district.pk)
        refusal = why_not_deletable(district)
        if refusal:
            raise Conflict(refusal, code="not_deletable")
        record = archive_record(district)
        export = deletable_export(district, record)
        _run_before_delete_hooks(actor=actor, district=district, reason=reason)
        domains = list(district.domains.order_by("domain").values_list("domain", flat=True))
        now = timezone.now()
        tombstone = DistrictTombstone.objects.create(
            slug=district.slug, name_zh=district.name_zh, name_en=district.name_en,
            schema_name=district.schema_name, domains=domains, vendor=district.vendor,
            district_id_was=district.pk, created_at_was=district.created_at, archive=record, export=export,
            deleted_at=now, deleted_by=actor if getattr(actor, "pk", None) else None, reason=reason)
        record.deleted_at = now
        record.save(update_fields=["deleted_at"])
        schema, pk = district.schema_name, district.pk
        _drop_schema(schema)
        from django.db.models.deletion import ProtectedError, RestrictedError

        try:
            District.objects.filter(pk=pk).delete()  # domains cascade; lifecycle records keep their slug
        except (ProtectedError, RestrictedError) as exc:
            names = sorted({f"{o._meta.app_label}.{o._meta.model_name}" for o in exc.args[1]})
            raise Conflict(_("Other records still refer to this district (%(names)s): settle them first.")
                           % {"names": ", ".join(names)}, code="still_referenced")
        audit.record(actor=actor, action="lifecycle.delete", target_type="tenants.district", target_id=str(pk),
                     before={"slug": tombstone.slug, "schema": schema, "domains": domains},
                     after={"tombstone": tombstone.pk, "export": export.pk, "reason": reason})
        transaction.on_commit(lambda: shutil.rmtree(Path(settings.MEDIA_ROOT) / schema, ignore_errors=True))
    return tombstone
