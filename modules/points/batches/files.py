"""Reading a list of ID numbers from an uploaded spreadsheet (.xlsx) or CSV, read by kernel.workbooks, for
award batches: the API (``POST /api/v1/points/batches/`` with a file) and the batch pages use it.

The column is the one headed 身份证号 (or another usual name: 公民身份号码, 证件号码, ID number…) in the
first rows; without such a header, the first column holding something like an ID number, read from
the first row. Every number is checked (length, date, region, checksum). Rows that are not a valid
number are reported by row number and what is wrong — never with the number itself: the numbers are
personal data, kept only in memory, not logged, not stored (the batch stores who was found)."""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from kernel.errors import DomainError
from kernel.personal import normalize_id_number
from kernel.workbooks import cell_text, open_spreadsheet

MAX_BYTES = 20 * 2**20  # 500,000 numbers take about 10 MB as CSV
MAX_ROWS = 500_000  # batches.MAX_TARGETS
HEADER_SCAN_ROWS = 10
PROBLEMS_KEPT = 50

# Column names meaning "ID number" (the registry's import knows the same ones).
HEADERS = ("身份证号", "身份证号码", "公民身份号码", "公民身份证号", "证件号码", "证件号", "身份证", "idnumber", "idno",
           "idcard")
ID_LIKE = re.compile(r"^\d{17}[\dXx]$|^\d{15}$")


@dataclass
class IdList:
    """What a file held: the valid numbers (normalised, each once) and what was wrong elsewhere."""

    numbers: list[str] = field(default_factory=list)
    rows: int = 0  # non-empty cells read in the column
    duplicates: int = 0
    invalid: int = 0
    problems: list[dict] = field(default_factory=list)  # the first PROBLEMS_KEPT: {"row": n, "problem": text}
    column: str = ""  # the header found, or "" when the numbers had none

    def summary(self) -> dict:
        return {"rows": self.rows, "valid": len(self.numbers), "duplicates": self.duplicates,
                "invalid": self.invalid, "problems": self.problems, "column": self.column}


def _header_key(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "").lower()
    text = re.sub(r"[(\[（【][^)\]）】]*[)\]）】]", "", text)  # 身份证号(18位) -> 身份证号
    return re.sub(r"[\s*:：_\-./]", "", text)


HEADER_KEYS = {_header_key(h) for h in HEADERS}


def _text(value) -> str:
    return unicodedata.normalize("NFKC", cell_text(value))


def rows_of(data: bytes, name: str = "") -> Iterator[tuple]:
    """The rows of the first sheet of an .xlsx file, or of a CSV file (kernel.workbooks reads both)."""
    return open_spreadsheet(data, name, max_bytes=MAX_BYTES).rows()


def _find_column(head: list[tuple]) -> tuple[int, int, str] | None:
    """(column, first data row index, header text) from the first rows: a header naming the ID
    numbers, or else the first column with something that looks like an ID number."""
    for index, row in enumerate(head[:HEADER_SCAN_ROWS]):
        for col, value in enumerate(row):
            text = _text(value)
            if text and _header_key(text) in HEADER_KEYS:
                return col, index + 1, text
    for row in head:
        for col, value in enumerate(row):
            if ID_LIKE.match(_text(value).replace(" ", "")):
                return col, 0, ""
    return None


def read_id_numbers(data: bytes, name: str = "") -> IdList:
    """Every ID number in the file's ID column, checked; raises a DomainError that says what to fix
    when the file cannot be read or holds no valid number at all."""
    rows = rows_of(data, name)
    head: list[tuple] = []
    for row in rows:
        head.append(row)
        if len(head) >= 20:
            break
    found = _find_column(head)
    if found is None:
        raise DomainError(_("No ID numbers found: head the column 身份证号, or put the numbers in the first column."),
                          code="no_id_column", fields={"file": [_("No column of ID numbers.")]})
    column, start, header = found
    out = IdList(column=header)
    seen: set[str] = set()

    def all_rows():
        yield from head
        yield from rows

    for line, row in enumerate(all_rows(), start=1):
        if line <= start:
            continue
        value = row[column] if column < len(row) else None
        text = _text(value).replace(" ", "")
        if not text:
            continue
        out.rows += 1
        if out.rows > MAX_ROWS:
            raise DomainError(_("At most %(n)d ID numbers in one file.") % {"n": MAX_ROWS},
                              code="too_many_rows", fields={"file": [_("Too many rows.")]})
        try:
            number = normalize_id_number(text)
        except ValidationError as exc:
            out.invalid += 1
            if len(out.problems) < PROBLEMS_KEPT:
                problem = exc.messages[0]
                if isinstance(value, int | float) and not isinstance(value, bool):
                    problem = _("Stored as a number, which keeps only 15 digits: format the column as text.")
                out.problems.append({"row": line, "problem": problem})
            continue
        if number in seen:
            out.duplicates += 1
            continue
        seen.add(number)
        out.numbers.append(number)
    if not out.numbers:
        raise DomainError(_("The file holds no valid ID number (%(invalid)d rows are not valid ID numbers).")
                          % {"invalid": out.invalid}, code="no_valid_numbers",
                          fields={"file": [_("No valid ID number.")]})
    return out


def read_upload(upload) -> IdList:
    """``read_id_numbers`` of an uploaded file (Django's UploadedFile), its size checked first."""
    if upload is None:
        raise DomainError(_("Choose a file."), fields={"file": [_("Required.")]})
    if upload.size is not None and upload.size > MAX_BYTES:
        raise DomainError(_("The file is too large: at most %(n)d MB.") % {"n": MAX_BYTES // 2**20},
                          code="file_too_large", fields={"file": [_("Too large.")]})
    return read_id_numbers(upload.read(), getattr(upload, "name", "") or "")
