"""The rejected rows of a ledger, as a workbook with a reason column, and a row as a report shows it."""
from __future__ import annotations

import io
import json

from django.core.files.base import ContentFile
from django.db import transaction

from kernel.errors import DomainError
from kernel.personal import decrypt
from modules.registry.ledger.problems import reason_text
from modules.registry.ledger.sheets import _read_file, seal
from modules.registry.models import ImportJob, LedgerRow

REASON_HEADER = "原因 / reason"


def _write_rejected(job: ImportJob) -> None:
    import openpyxl

    old = job.rejected_file.name if job.rejected_file else ""
    if not job.rejected_count:
        job.rejected_file = None
    else:
        wb = openpyxl.Workbook()  # not write-only: that leaves out <dimension>, which makes re-reading slow
        ws = wb.active
        ws.title = "未导入 rejected"
        ws.append([*job.columns, REASON_HEADER])
        width = len(job.columns)
        rows = LedgerRow.objects.filter(job=job, status=LedgerRow.Status.REJECTED).order_by("line").values_list(
            "data_encrypted", "problems")
        for data, problems in rows.iterator(chunk_size=2000):
            cells = json.loads(decrypt(data))["c"]
            cells = (cells + [""] * width)[:max(width, len(cells))]
            ws.append([*cells[:width], reason_text(problems), *cells[width:]])
        out = io.BytesIO()
        wb.save(out)
        job.rejected_file.save("rejected.bin", ContentFile(seal(out.getvalue())), save=False)
    if old and old != (job.rejected_file.name if job.rejected_file else ""):
        transaction.on_commit(lambda: job.file.storage.delete(old))


def rejected_workbook(job: ImportJob) -> tuple[bytes, str]:
    """The rejected rows (.xlsx bytes) and a file name for the download."""
    if not job.rejected_file:
        raise DomainError("这次导入没有被拒绝的行。This import has no rejected rows.", code="no_rejected_rows",
                          status=404)
    stem = job.original_name.rsplit(".", 1)[0] or "ledger"
    return _read_file(job.rejected_file), f"{stem}-未导入-rejected.xlsx"


def row_preview(stored: LedgerRow, job: ImportJob, *, full: bool = False) -> dict:
    """What a report shows of a row: name, masked ID number, address as typed."""
    from kernel.personal import mask_id_number

    cells = json.loads(decrypt(stored.data_encrypted))["c"]

    def cell(fld: str) -> str:
        pos = job.mapping.get(fld)
        return cells[pos] if pos is not None and pos < len(cells) else ""

    id_number = cell("id_number")
    address = " ".join(x for x in (cell("compound"), cell("building"), cell("unit"), cell("room")) if x)
    return {"name": cell("name"), "id_number": id_number if full else mask_id_number(id_number),
            "address": address, "relation": cell("relation")}
