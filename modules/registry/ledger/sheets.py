"""Reading an uploaded ledger (.xlsx or .csv): the file sealed at rest, the header row found, the rows
read as text."""
from __future__ import annotations

import base64
import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime

from kernel.errors import DomainError
from kernel.personal import decrypt, encrypt
from kernel.workbooks import check_xlsx
from modules.registry.ledger.columns import ALIASES, COLUMNS, _header_key
from modules.registry.models import ImportJob

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

def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if not (value.hour or value.minute or value.second) else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


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
        if self.fmt == ImportJob.Format.XLSX:
            yield from _xlsx_rows(self.data, self.sheet_index)
        else:
            yield from _csv_rows(self.data, self.encoding)

    def rows(self) -> Iterator[tuple[int, list]]:
        """(line, cells) of every data row after the header; blank rows are skipped."""
        for line, raw in enumerate(self.raw_rows(), start=1):
            if line <= self.header_line:
                continue
            if all(v is None or (isinstance(v, str) and not v.strip()) for v in raw):
                continue
            yield line, list(raw)


def _xlsx_rows(data: bytes, sheet_index: int) -> Iterator[tuple]:
    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        yield from wb.worksheets[sheet_index].iter_rows(values_only=True)
    finally:
        wb.close()


def _csv_rows(data: bytes, encoding: str) -> Iterator[tuple]:
    text = data.decode(encoding)
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    for row in csv.reader(io.StringIO(text, newline=""), dialect):
        yield tuple(row)


def _decode_csv(data: bytes) -> str:
    """UTF-8 (with or without the BOM Excel writes), GB18030 (Excel and WPS on Chinese Windows), or
    UTF-16 (Excel's "Unicode text")."""
    candidates = ("utf-16",) if data.startswith((b"\xff\xfe", b"\xfe\xff")) else ("utf-8-sig", "gb18030")
    for encoding in candidates:
        try:
            data.decode(encoding)
            return encoding
        except UnicodeDecodeError:
            continue
    raise DomainError("无法识别文件的文字编码，请另存为“CSV UTF-8”或 Excel (.xlsx) 后重新上传。"
                      "The file's text encoding is unknown: save it as CSV UTF-8 or Excel (.xlsx) and upload again.",
                      code="unreadable_file", fields={"file": ["encoding"]})


def _detect_format(name: str, data: bytes) -> str:
    lower = name.lower()
    if data[:4] == b"PK\x03\x04":
        return ImportJob.Format.XLSX
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" or lower.endswith(".xls"):
        raise DomainError("这是旧版 Excel (.xls) 文件，请在 Excel 或 WPS 中另存为 .xlsx 后重新上传。"
                          "This is an old Excel (.xls) file: save it as .xlsx in Excel or WPS and upload again.",
                          code="unsupported_file", fields={"file": ["xls"]})
    if lower.endswith((".csv", ".txt")):
        return ImportJob.Format.CSV
    if lower.endswith(".xlsx"):
        return ImportJob.Format.XLSX  # not a zip: check_xlsx says what is wrong
    raise DomainError("只能导入 Excel (.xlsx) 或 CSV 文件。Only Excel (.xlsx) and CSV files can be imported.",
                      code="unsupported_file", fields={"file": ["format"]})


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
    if not data:
        raise DomainError("文件是空的。The file is empty.", code="empty_file", fields={"file": ["empty"]})
    fmt = _detect_format(name, data)
    sheet = Sheet(data=data, fmt=fmt)
    found = None
    if fmt == ImportJob.Format.XLSX:
        import openpyxl

        check_xlsx(data)  # read to its end now: a damaged workbook is refused here, not in the job
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            for index, ws in enumerate(wb.worksheets):
                found = _find_header(ws.iter_rows(values_only=True, max_row=HEADER_SCAN_ROWS))
                if found:
                    sheet.sheet_index = index
                    sheet.estimated_rows = max(0, (ws.max_row or 0) - found[0])
                    break
        finally:
            wb.close()
    else:
        sheet.encoding = _decode_csv(data)
        try:
            found = _find_header(sheet.raw_rows())
            for _row in sheet.raw_rows():  # read to the end now: a row the job could not read is refused here
                pass
        except csv.Error as exc:
            raise DomainError(f"文件不是可读的 CSV 文件：{exc}。The file is not a readable CSV file: {exc}.",
                              code="unreadable_file", fields={"file": ["csv"]}) from exc
        sheet.estimated_rows = max(0, data.count(b"\n") - (found[0] if found else 0) + 1)
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
