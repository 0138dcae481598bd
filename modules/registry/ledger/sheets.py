"""Reading an uploaded ledger (.xlsx or .csv): the file sealed at rest, the header row found, the rows
read as text."""
from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from kernel.errors import DomainError
from kernel.personal import decrypt, encrypt
from kernel.workbooks import Spreadsheet, cell_text, open_spreadsheet
from modules.registry.ledger.columns import ALIASES, COLUMNS, _header_key

HEADER_SCAN_ROWS = 10  # a title line or two above the header row is common


# --- encrypted files (the ledger holds every ID number of a community) ----------------------------

def seal(data: bytes) -> bytes:
    return encrypt(base64.b64encode(data).decode("ascii")).encode("ascii")


def unseal(data: bytes) -> bytes:
    return base64.b64decode(decrypt(data.decode("ascii")))


def _read_file(filefield) -> bytes:
    with filefield.open("rb") as fh:
        return unseal(fh.read())


# --- reading .xlsx and .csv ---------------------------------------------------------------------------

_text = cell_text


SCIENTIFIC = re.compile(r"^\d(\.\d+)?e\+?\d+$", re.IGNORECASE)


@dataclass
class Sheet:
    data: bytes
    fmt: str
    encoding: str = ""
    sheet_index: int = 0
    header_line: int = 1
    columns: list[str] = field(default_factory=list)
    mapping: dict[str, int] = field(default_factory=dict)
    estimated_rows: int = 0

    def raw_rows(self) -> Iterator[tuple]:
        yield from Spreadsheet(self.data, self.fmt, self.encoding).rows(self.sheet_index)

    def rows(self) -> Iterator[tuple[int, list]]:
        """(line, cells) of every data row after the header; blank rows are skipped."""
        for line, raw in enumerate(self.raw_rows(), start=1):
            if line <= self.header_line:
                continue
            if all(v is None or (isinstance(v, str) and not v.strip()) for v in raw):
                continue
            yield line, list(raw)


def _find_header(rows: Iterable[tuple]) -> tuple[int, list[str], dict[str, int]] | None:
    for line, raw in enumerate(rows, start=1):
        if line > HEADER_SCAN_ROWS:
            return None
        cells = [_text(v) for v in raw]
        mapping: dict[str, int] = {}
        for pos, cell in enumerate(cells):
            fld = ALIASES.get(_header_key(cell))
            if fld and fld not in mapping:
                mapping[fld] = pos
        if len(mapping) >= 3:
            while cells and not cells[-1]:
                cells.pop()
            return line, cells, mapping
    return None


def open_sheet(data: bytes, name: str) -> Sheet:
    """Open the file and find its header row, or raise a DomainError saying what to fix."""
    book = open_spreadsheet(data, name)  # kernel.workbooks: read to its end now, refused here if unreadable
    sheet = Sheet(data=data, fmt=book.fmt, encoding=book.encoding)
    found = None
    for index, head, count in book.heads(HEADER_SCAN_ROWS):
        found = _find_header(head)
        if found:
            sheet.sheet_index = index
            sheet.estimated_rows = max(0, count - found[0])
            break
    if not found:
        raise DomainError("找不到表头：前几行中应有“姓名”“身份证号”“小区”“楼栋”“房号”等列名。"
                          "No header row found: one of the first rows must name the columns "
                          "(姓名 name, 身份证号 ID number, 小区 compound, 楼栋 building, 房号 room…).",
                          code="no_header", fields={"file": ["header"]})
    sheet.header_line, sheet.columns, sheet.mapping = found
    missing = [c for c in COLUMNS if c.required and c.field not in sheet.mapping]
    if missing:
        zh = "、".join(c.zh for c in missing)
        en = ", ".join(f"{c.en} ({c.zh})" for c in missing)
        raise DomainError(f"缺少必填列：{zh}。Required columns are missing: {en}.", code="missing_columns",
                          fields={"file": [c.field for c in missing]})
    return sheet
