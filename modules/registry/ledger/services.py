"""Uploading a ledger (its dry run starts) and confirming its import: the writes of the ledger."""
from __future__ import annotations

import hashlib
import logging

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from kernel import audit, jobs
from kernel.errors import Conflict, DomainError, NotAllowed
from kernel.permissions import has_role
from kernel.roles import Role
from modules.registry.ledger.importing import TASK, run_job
from modules.registry.ledger.sheets import open_sheet, seal
from modules.registry.models import ImportJob

log = logging.getLogger(__name__)


MAX_UPLOAD_BYTES = 50 * 1024 * 1024
INLINE_MAX_ROWS = 1000  # dry runs and imports of files up to this many rows run in the request
IMPORTERS = (Role.DISTRICT_ADMIN, Role.COMMUNITY_STAFF)


def _start(job: ImportJob, *, background: bool | None, estimated_rows: int) -> None:
    """Run the job in the request when it is small, else queue it by name (kernel.jobs): with the
    broker down it stays queued, and the registry's sweep queues it again."""
    if background is None:
        background = estimated_rows > INLINE_MAX_ROWS
    if background:
        jobs.queue(TASK, job.pk)
    else:
        run_job(job_id=job.pk)


def _require_importer(actor) -> None:
    if actor is not None and not has_role(actor, *IMPORTERS):
        raise NotAllowed("只有区管理员和社区工作人员可以导入台账。"
                         "Only the district administrator and community staff import ledgers.")


def upload_ledger(*, actor, file, background: bool | None = None) -> ImportJob:
    """Store an uploaded ledger and start its dry run. ``background``: None decides by size."""
    _require_importer(actor)
    name = (getattr(file, "name", "") or "ledger").rsplit("/", 1)[-1][:200]
    size = getattr(file, "size", None)
    if size is not None and size > MAX_UPLOAD_BYTES:
        raise DomainError(f"文件太大（最多 {MAX_UPLOAD_BYTES // 2**20} MB），请分成几个文件上传。"
                          f"The file is too large ({MAX_UPLOAD_BYTES // 2**20} MB at most): split it.",
                          code="file_too_large", fields={"file": ["size"]})
    data = file.read()
    if len(data) > MAX_UPLOAD_BYTES:
        raise DomainError("文件太大。The file is too large.", code="file_too_large", fields={"file": ["size"]})
    sheet = open_sheet(data, name)
    job = ImportJob(original_name=name, file_format=sheet.fmt, file_sha256=hashlib.sha256(data).hexdigest(),
                    encoding=sheet.encoding, columns=sheet.columns, mapping=sheet.mapping,
                    header_line=sheet.header_line, sheet_index=sheet.sheet_index, created_by=actor if getattr(actor, "pk", None) else None,
                    progress_total=sheet.estimated_rows)
    with transaction.atomic():
        job.file.save("ledger.bin", ContentFile(seal(data)), save=False)
        job.save()
        audit.record(actor=actor, action="registry.ledger.upload", target=job,
                     after={"file": name, "format": sheet.fmt, "rows": sheet.estimated_rows})
    _start(job, background=background, estimated_rows=sheet.estimated_rows)
    job.refresh_from_db()
    return job


def confirm_import(*, actor, job: ImportJob, background: bool | None = None) -> ImportJob:
    """Import the rows the dry run found valid. Confirming again is harmless; confirming a failed
    import resumes it."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job.pk)
        if actor is not None and not (has_role(actor, Role.DISTRICT_ADMIN) or job.created_by_id == actor.pk):
            raise NotAllowed("只有上传者或区管理员可以确认导入。"
                             "Only the person who uploaded the ledger or the district administrator can confirm it.")
        if job.phase == ImportJob.Phase.IMPORT:
            if job.status != ImportJob.Status.FAILED:
                return job
            job.status, job.error = ImportJob.Status.QUEUED, ""
            job.save(update_fields=["status", "error", "updated_at"])
            audit.record(actor=actor, action="registry.ledger.retry", target=job)
        else:
            if job.status == ImportJob.Status.FAILED:
                raise Conflict("试运行失败，请重新上传文件。The dry run failed: upload the file again.",
                               code="check_failed")
            if job.status != ImportJob.Status.DONE:
                raise Conflict("试运行尚未完成，请稍候。The dry run has not finished yet: wait for it.",
                               code="not_checked")
            if job.valid_count == 0:
                raise Conflict("没有可导入的行：每一行都已登记或被拒绝。"
                               "Nothing to import: every row is already registered or rejected.",
                               code="nothing_to_import")
            job.phase, job.status = ImportJob.Phase.IMPORT, ImportJob.Status.QUEUED
            job.confirmed_by = actor if getattr(actor, "pk", None) else None
            job.confirmed_at = timezone.now()
            job.progress_done, job.progress_total = 0, job.valid_count
            job.save()
            audit.record(actor=actor, action="registry.ledger.confirm", target=job,
                         after={"valid": job.valid_count})
    _start(job, background=background, estimated_rows=job.valid_count)
    job.refresh_from_db()
    return job
