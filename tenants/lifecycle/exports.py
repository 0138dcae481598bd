"""A district's export as a job on the kernel job runner (copy of modules/codes/print_runs.py).

``services.request_export`` records the export QUEUED and queues ``tasks.run_export`` by name; the task
runs ``produce`` here under the job's advisory lock with its heartbeat; ``tasks.sweep`` resumes exports
whose worker died or whose task was lost. The work, in steps the export shows as it goes:

1. dump: one repeatable-read snapshot is opened; the row count of every table of the schema and its
   applied migrations are read in it, and ``pg_dump --schema=<schema> -Fc --snapshot=…`` dumps exactly
   that snapshot (so the counts are what the dump holds: the restore test compares them);
2. media: the district's uploaded files (MEDIA_ROOT/<schema>/) as a .tar.gz;
3. workbook: the customer's Excel copy (tenants.lifecycle.workbook), phones and ID numbers masked.

Every file is written under a temporary name and renamed when whole, then its SHA-256 and size are
recorded. A run found running again (its worker died) starts again from the first step: files are
replaced, never doubled."""
from __future__ import annotations

import hashlib
import tarfile
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from kernel import audit, jobs
from kernel.models import JobStatus
from tenants.lifecycle import pg, workbook
from tenants.lifecycle.models import DistrictExport
from tenants.models import District

EXPORT_TASK = "tenants.lifecycle.tasks.run_export"


def export_root() -> Path:
    return Path(settings.DISTRICT_EXPORT_ROOT)


def file_path(export: DistrictExport, kind: str) -> Path | None:
    """The absolute path of one of an export's files (``dump``, ``media``, ``workbook``), or None."""
    relative = getattr(export, f"{kind}_path", "")
    if not relative:
        return None
    root = export_root().resolve()
    path = (root / relative).resolve()
    if root not in path.parents:  # never outside the export root, whatever the row says
        raise ValueError("export file outside DISTRICT_EXPORT_ROOT")
    return path


def digest(path: Path) -> tuple[str, int]:
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(2**20):
            sha.update(chunk)
    return sha.hexdigest(), path.stat().st_size


def _step(export: DistrictExport, step: str, **fields) -> None:
    DistrictExport.objects.filter(pk=export.pk).update(step=step, updated_at=timezone.now(), **fields)


def _keep(export: DistrictExport, kind: str, tmp: Path, final: Path, **extra) -> None:
    tmp.replace(final)
    sha, size = digest(final)
    _step(export, export.step, **{f"{kind}_path": str(final.relative_to(export_root())),
                                  f"{kind}_sha256": sha, f"{kind}_size": size}, **extra)


def _media_tar(schema: str, out: Path) -> None:
    source = Path(settings.MEDIA_ROOT) / schema
    with tarfile.open(out, "w:gz") as tar:
        if source.is_dir():
            tar.add(source, arcname=".")


def _work(export: DistrictExport) -> None:
    district = District.objects.filter(pk=export.district_id).first()
    if district is None:
        raise RuntimeError("the district of this export is gone")
    schema = export.schema_name
    folder = export_root() / export.slug / str(export.pk)
    folder.mkdir(parents=True, exist_ok=True)
    for leftover in folder.glob("*.part"):
        leftover.unlink()

    export.step = DistrictExport.Step.DUMP
    _step(export, export.step)
    tmp = folder / f"{schema}.dump.part"
    with pg.frozen(schema) as (snapshot, counts, applied):
        pg.dump_schema(schema, tmp, snapshot=snapshot)
    _keep(export, "dump", tmp, folder / f"{schema}.dump", row_counts=counts, migrations=applied)

    export.step = DistrictExport.Step.MEDIA
    _step(export, export.step)
    tmp = folder / "media.tar.gz.part"
    _media_tar(schema, tmp)
    _keep(export, "media", tmp, folder / f"{export.slug}-media.tar.gz")

    export.step = DistrictExport.Step.WORKBOOK
    _step(export, export.step)
    tmp = folder / "workbook.xlsx.part"
    with tenant_context(district):
        workbook.write(tmp, title=f"{district.name_zh} 数据导出")
    _keep(export, "workbook", tmp, folder / f"{export.slug}-数据.xlsx")

    with transaction.atomic():
        export = DistrictExport.objects.select_for_update().get(pk=export.pk)
        export.status, export.step, export.finished_at = JobStatus.DONE, DistrictExport.Step.DONE, timezone.now()
        export.save(update_fields=["status", "step", "finished_at", "updated_at"])
        audit.record(actor=None, action="lifecycle.export.done", target=export,
                     after={"slug": export.slug, "dump_sha256": export.dump_sha256, "dump_size": export.dump_size,
                            "workbook_sha256": export.workbook_sha256, "tables": len(export.row_counts)})


def _failure(exc: BaseException) -> str:
    if isinstance(exc, pg.PgToolError):
        return ("导出数据库失败，已记录，请联系平台运维。The database dump failed and has been logged; "
                "ask the platform operator (pg_dump / its connection).")
    return jobs.failed_message(exc)


EXPORTS = jobs.JobKind(lock="district-export", model=DistrictExport, task=EXPORT_TASK, work=_work, failure=_failure,
                       failed_action="lifecycle.export.failed", queued_since="created_at")


def produce(export: DistrictExport) -> DistrictExport | None:
    """Make an export's files here (what the task runs): the export afterwards, or None when another
    worker is making it."""
    return jobs.run(EXPORTS, export.pk)
