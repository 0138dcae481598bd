"""The ledger job's own work, on the kernel's job runner (kernel.jobs): the dry run (phase ``check``)
and the import (phase ``import``) in chunks, each chunk one transaction that marks its rows
``imported``, so a run taken over after a killed worker continues with the rows still ``valid``."""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from kernel import audit, jobs
from kernel.locks import lock_key
from kernel.personal import decrypt
from modules.registry.ledger.checking import Checker, FileChecks, Row
from modules.registry.ledger.export import _write_rejected
from modules.registry.ledger.sheets import Sheet, _read_file
from modules.registry.models import (
    Household,
    ImportJob,
    LedgerRow,
    Membership,
    Resident,
)
from modules.registry.services import personal_fields

CHUNK = 1000  # rows per transaction (import) and per progress update
TASK = "registry.tasks.run_import_job"


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    chunk: list = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _check(job: ImportJob) -> None:
    """The dry run: check every row, store it with its problems; nothing goes into the registry."""
    LedgerRow.objects.filter(job=job).delete()  # a redelivered dry run starts over
    sheet = Sheet(data=_read_file(job.file), fmt=job.file_format, encoding=job.encoding,
                  header_line=job.header_line, columns=job.columns, mapping=job.mapping)
    sheet.sheet_index = job.sheet_index
    checker = Checker(job, actor=job.created_by)
    in_file = FileChecks()
    done = 0
    for raw_chunk in _chunks(sheet.rows(), CHUNK):
        rows = [checker.parse(line, raw) for line, raw in raw_chunk]
        for row in rows:
            in_file.add(row)
        checker.check_registry(rows)
        LedgerRow.objects.bulk_create([
            LedgerRow(job=job, line=r.line, status=r.status, problems=r.problems, data_encrypted=r.payload(),
                      resident_id=r.resident_id if r.status == LedgerRow.Status.UNCHANGED else None,
                      household_id=r.household_id if r.status == LedgerRow.Status.UNCHANGED else None)
            for r in rows])
        done += len(rows)
        job.progress_done, job.progress_total = done, max(job.progress_total, done)
        job.save(update_fields=["progress_done", "progress_total", "updated_at"])
    extra = in_file.rejections(checker.columns)
    if extra:
        stored = list(LedgerRow.objects.filter(job=job, line__in=list(extra)))
        for r in stored:
            r.status = LedgerRow.Status.REJECTED
            r.problems = [*r.problems, *extra[r.line]]
            r.resident_id = r.household_id = None
        _save_rows(stored)
    with transaction.atomic():
        _tally(job)
        job.progress_total = job.progress_done = job.total_rows
        job.status, job.checked_at = ImportJob.Status.DONE, timezone.now()
        job.save()


def _save_rows(rows: list[LedgerRow]) -> None:
    """Save status, problems and links of many rows at once. Django's bulk_update builds one CASE
    per field and row (about half a second per thousand rows here); psycopg pipelines executemany."""
    if not rows:
        return
    table = connection.ops.quote_name(LedgerRow._meta.db_table)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {table} SET status = %s, problems = %s::jsonb, resident_id = %s, household_id = %s "
            f"WHERE id = %s",
            [(r.status, json.dumps(r.problems, ensure_ascii=False), r.resident_id, r.household_id, r.pk)
             for r in rows])


def _tally(job: ImportJob) -> None:
    counts = Counter(LedgerRow.objects.filter(job=job).values_list("status", flat=True))
    job.total_rows = sum(counts.values())
    job.rejected_count = counts[LedgerRow.Status.REJECTED]
    job.unchanged_count = counts[LedgerRow.Status.UNCHANGED]
    job.imported_count = counts[LedgerRow.Status.IMPORTED]
    job.valid_count = counts[LedgerRow.Status.VALID] + job.imported_count
    codes: Counter = Counter()
    for problems in LedgerRow.objects.filter(job=job, status=LedgerRow.Status.REJECTED).values_list(
            "problems", flat=True):
        codes.update({p["code"] for p in problems})
    job.problem_counts = dict(codes.most_common())
    _write_rejected(job)


def _row_from_stored(checker: Checker, stored: LedgerRow) -> Row:
    payload = json.loads(decrypt(stored.data_encrypted))
    raw = payload["c"]
    row = Row(line=stored.line, cells=raw, values=checker.values(raw), id_number=payload["id"],
              phone=payload["ph"], pk=stored.pk)
    checker.check_row(row, numbers_checked=True)
    return row


def _import(job: ImportJob) -> None:
    checker = Checker(job, actor=job.created_by)
    while True:
        batch = list(LedgerRow.objects.filter(job=job, status=LedgerRow.Status.VALID).order_by("line")[:CHUNK])
        if not batch:
            break
        for attempt in range(3):
            try:
                _import_chunk(job, checker, batch)
                break
            except IntegrityError:  # someone registered one of these people or households meanwhile
                if attempt == 2:
                    raise
                checker.places.load_households(checker.places.loaded, refresh=True)
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job.pk)
        _tally(job)
        job.status, job.finished_at = ImportJob.Status.DONE, timezone.now()
        job.progress_done = job.progress_total
        job.save()
        audit.record(actor=job.confirmed_by, action="registry.ledger.import", target=job,
                     after={"file": job.original_name, "imported": job.imported_count,
                            "households_created": job.households_created, "unchanged": job.unchanged_count,
                            "rejected": job.rejected_count})


def _import_chunk(job: ImportJob, checker: Checker, batch: list[LedgerRow]) -> None:
    """Write one chunk in one transaction. The place cache is only updated once it has committed."""
    places = checker.places
    with transaction.atomic():
        with connection.cursor() as cursor:  # concurrent imports of one district take turns per chunk
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock_key("ledger-import")])
        rows = [_row_from_stored(checker, stored) for stored in batch]
        checker.check_registry(rows)
        valid = [r for r in rows if r.status == LedgerRow.Status.VALID]
        # households that do not exist yet, in known buildings
        new_keys = sorted({r.household_key for r in valid if r.household_key not in places.households})
        grid_of = {r.building.id: r.building.grid_id for r in valid}
        created = Household.objects.bulk_create([
            Household(building_id=b, unit=unit, room=room, grid_id=grid_of[b]) for b, unit, room in new_keys])
        new_households = {key: h.pk for key, h in zip(new_keys, created, strict=True)}
        # new people, encrypted and indexed the one way the registry does it
        newcomers = [r for r in valid if r.resident_id is None]
        residents = Resident.objects.bulk_create([
            Resident(name=r.values["name"], **personal_fields(id_number=r.id_number, phone=r.phone or None))
            for r in newcomers])
        for r, resident in zip(newcomers, residents, strict=True):
            r.resident_id = resident.pk
        new_heads = {}
        for r in valid:
            r.household_id = places.households.get(r.household_key) or new_households[r.household_key]
            if r.relation == Membership.Relation.HEAD:
                new_heads[r.household_id] = (r.resident_id, r.values["name"])
        Membership.objects.bulk_create([
            Membership(resident_id=r.resident_id, household_id=r.household_id, relation=r.relation) for r in valid])
        for stored, r in zip(batch, rows, strict=True):
            stored.status = LedgerRow.Status.IMPORTED if r.status == LedgerRow.Status.VALID else r.status
            stored.problems = r.problems
            stored.resident_id, stored.household_id = r.resident_id, r.household_id
        _save_rows(batch)
        ImportJob.objects.filter(pk=job.pk).update(
            progress_done=job.progress_done + len(batch), households_created=job.households_created + len(created),
            imported_count=job.imported_count + len(valid), updated_at=timezone.now())
    places.households.update(new_households)
    places.heads.update(new_heads)
    job.progress_done += len(batch)
    job.households_created += len(created)
    job.imported_count += len(valid)


# --- the job ----------------------------------------------------------------------------------------

def _work(job: ImportJob) -> None:
    if job.phase == ImportJob.Phase.CHECK:
        _check(job)
    else:
        _import(job)


def _failure(exc: BaseException) -> str:
    return f"导入出错，已记录。Something went wrong and it has been logged ({type(exc).__name__})."


LEDGER_JOBS = jobs.JobKind(lock="ledger-job", model=ImportJob, task=TASK, work=_work, failure=_failure)


def run_job(*, job_id: int) -> ImportJob | None:
    """Run whatever the job is waiting for (dry run or import) on the kernel's runner. Safe to call
    again at any point; None when another worker is running it."""
    return jobs.run(LEDGER_JOBS, job_id)


def dead_jobs() -> list[int]:
    """Jobs nobody runs although they should be (kernel.jobs.to_resume): running ones whose worker
    died, queued ones whose task was lost with the broker. The registry's sweep queues them again."""
    return jobs.to_resume(LEDGER_JOBS)
