"""Spreadsheets: the one reader every import uses (``open_spreadsheet``: .xlsx, or CSV in UTF-8 with or
without a BOM, GB18030 or UTF-16; ``cell_text`` / ``cell_date`` / ``cell_bool`` read a cell the same
way whichever file it came from), and the check that an uploaded .xlsx is readable to its end.

The check runs before an upload is accepted, so that a damaged workbook is refused at once with what
is wrong in words, not taken with 202 to fail later in a job (openpyxl in read-only mode opens a
workbook whose sheet is cut short and fails only at the cut). Every part of the archive is read (the
zip checks each part's CRC) and every XML part is parsed to its end with expat (in C: about a second
for the largest upload), then openpyxl opens the workbook."""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from xml.parsers import expat

from django.utils.translation import gettext as _

from kernel.errors import DomainError

MAX_UNPACKED_BYTES = 512 * 2**20  # what a 20 MB upload may unpack to; past it, a zip bomb
CHUNK = 2**20


def xlsx_problem(data: bytes) -> str | None:
    """What makes ``data`` unreadable as an .xlsx workbook, in words, or None when it reads."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError):
        return _("it is not a complete .xlsx (zip) archive: the file is cut short or is another kind of file")
    with archive:
        infos = archive.infolist()
        names = {info.filename for info in infos}
        if "xl/workbook.xml" not in names:
            return _("it holds no workbook (xl/workbook.xml is missing)")
        if sum(info.file_size for info in infos) > MAX_UNPACKED_BYTES:
            return _("it unpacks to more than %(n)d MB") % {"n": MAX_UNPACKED_BYTES // 2**20}
        for info in infos:
            if info.is_dir():
                continue
            parser = None
            if info.filename.endswith((".xml", ".rels")):
                parser = expat.ParserCreate()
            try:
                with archive.open(info) as part:
                    while chunk := part.read(CHUNK):
                        if parser is not None:
                            parser.Parse(chunk, False)
                    if parser is not None:
                        parser.Parse(b"", True)
            except expat.ExpatError as exc:
                return _("the part %(part)s is cut short or damaged (%(why)s)") % {
                    "part": info.filename, "why": expat.ErrorString(exc.code)
                    + f", line {exc.lineno}, column {exc.offset}"}
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
                return _("the part %(part)s is damaged (%(why)s)") % {"part": info.filename, "why": exc}
            except (NotImplementedError, RuntimeError) as exc:  # unknown compression, encrypted
                return _("the part %(part)s cannot be read (%(why)s)") % {"part": info.filename, "why": exc}
    import openpyxl

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a workbook it cannot open
        return _("it cannot be opened as a workbook (%(why)s)") % {"why": f"{type(exc).__name__}: {exc}"[:200]}
    try:
        if not book.worksheets:
            return _("it has no worksheet")
    finally:
        book.close()
    return None


def unreadable_message(problem: str) -> str:
    return _("The file is not a readable .xlsx workbook: %(problem)s.") % {"problem": problem}


def check_xlsx(data: bytes, *, field: str = "file") -> None:
    """Raise a DomainError (400, code ``unreadable_file``) saying what is wrong when ``data`` is not
    an .xlsx workbook that reads to its end."""
    problem = xlsx_problem(data)
    if problem:
        message = unreadable_message(problem)
        raise DomainError(message, code="unreadable_file", fields={field: [message]})


# --- the one spreadsheet reader ---------------------------------------------------------------------
# Every import reads its upload here: an .xlsx workbook or a CSV file in UTF-8 (with or without the
# BOM Excel writes), GB18030 (Excel and WPS on Chinese Windows) or UTF-16 (Excel's "Unicode text").
# Rows come as tuples of raw values (openpyxl's for a workbook, strings for a CSV); ``cell_text``,
# ``cell_date`` and ``cell_bool`` read any cell the same way whichever file it came from.

XLSX, CSV = "xlsx", "csv"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # an old .xls (or another OLE document)
YES_WORDS = ("是", "对", "有", "√", "✓", "y", "yes", "true", "1")
NO_WORDS = ("否", "不", "不是", "无", "没有", "×", "✗", "n", "no", "false", "0")
_DATE_TEXT = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?$")


def cell_text(value) -> str:
    """A cell as trimmed text: whole numbers without ``.0`` (up to 15 digits, what Excel keeps), dates
    as 2027-01-01 (a time of day only when there is one), booleans as 是 / 否."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, dt.datetime):
        if not (value.hour or value.minute or value.second):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value).strip()


def cell_date(value) -> dt.date | None:
    """A date cell, or text such as 2027-01-01, 2027/1/1 or 2027年1月1日; None when empty;
    ValueError when it is no date."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = cell_text(value)
    if not text:
        return None
    match = _DATE_TEXT.match(text)
    if not match:
        raise ValueError(f"not a date: {text[:40]}")
    return dt.date(int(match[1]), int(match[2]), int(match[3]))


def cell_bool(value) -> bool | None:
    """是 / 否 (or yes / no, true / false, 1 / 0, √ / ×, a workbook's TRUE / FALSE); None when
    empty; ValueError for anything else."""
    if isinstance(value, bool):
        return value
    text = cell_text(value).lower()
    if not text:
        return None
    if text in YES_WORDS:
        return True
    if text in NO_WORDS:
        return False
    raise ValueError(f"not yes or no: {text[:40]}")


def _refuse(message: str, code: str, field: str, why: str) -> DomainError:
    return DomainError(message, code=code, fields={field: [why]})


def csv_encoding(data: bytes, *, field: str = "file") -> str:
    """The encoding a CSV file is written in: UTF-16 when it starts with its BOM, else UTF-8 (the BOM
    dropped), else GB18030; a DomainError (``unreadable_file``) when none reads it."""
    candidates = ("utf-16",) if data.startswith((b"\xff\xfe", b"\xfe\xff")) else ("utf-8-sig", "gb18030")
    for encoding in candidates:
        try:
            data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return encoding
    raise _refuse(_("The file's text encoding is unknown: save it as CSV UTF-8 or as Excel (.xlsx) and upload it "
                    "again."), "unreadable_file", field, _("Unknown encoding."))


def spreadsheet_format(data: bytes, name: str = "", *, field: str = "file") -> str:
    """XLSX or CSV, from the file's first bytes and its name; an old .xls or a file of another kind is
    a DomainError (``unsupported_file``)."""
    lower = (name or "").lower()
    if data[:4] == b"PK\x03\x04":
        return XLSX
    if data[:8] == OLE_MAGIC or lower.endswith(".xls"):
        raise _refuse(_("This is an old Excel file (.xls): save it as .xlsx in Excel or WPS and upload it again."),
                      "unsupported_file", field, _("Old .xls format."))
    if lower.endswith((".xlsx", ".xlsm")):
        return XLSX  # not a zip: check_xlsx says what is wrong
    if "." not in lower.rsplit("/", 1)[-1] or lower.endswith((".csv", ".txt")):
        return CSV
    raise _refuse(_("This is not a spreadsheet: upload an Excel workbook (.xlsx) or a CSV file."),
                  "unsupported_file", field, _("Not a spreadsheet."))


@dataclass
class Spreadsheet:
    """An uploaded spreadsheet: ``rows(sheet)`` gives its rows as tuples of raw cell values."""

    data: bytes
    fmt: str
    encoding: str = ""

    def rows(self, sheet: int = 0, *, max_row: int | None = None) -> Iterator[tuple]:
        if self.fmt == XLSX:
            import openpyxl

            book = openpyxl.load_workbook(io.BytesIO(self.data), read_only=True, data_only=True)
            try:
                yield from book.worksheets[sheet].iter_rows(values_only=True, max_row=max_row)
            finally:
                book.close()
            return
        text = self.data.decode(self.encoding or "utf-8-sig")
        try:
            dialect = csv.Sniffer().sniff(text[:4096], delimiters=",\t;")
        except csv.Error:
            dialect = csv.excel
        for number, row in enumerate(csv.reader(io.StringIO(text, newline=""), dialect), start=1):
            yield tuple(row)
            if max_row and number >= max_row:
                return

    def heads(self, max_row: int) -> list[tuple[int, list[tuple], int]]:
        """(sheet index, its first ``max_row`` rows, its row count as the file states it) of every
        sheet; a CSV file is one sheet."""
        if self.fmt != XLSX:
            return [(0, list(self.rows(max_row=max_row)), self.data.count(b"\n") + 1)]
        import openpyxl

        book = openpyxl.load_workbook(io.BytesIO(self.data), read_only=True, data_only=True)
        try:
            return [(index, list(ws.iter_rows(values_only=True, max_row=max_row)), ws.max_row or 0)
                    for index, ws in enumerate(book.worksheets)]
        finally:
            book.close()


def open_spreadsheet(data: bytes, name: str = "", *, max_bytes: int | None = None, field: str = "file",
                     formats: tuple[str, ...] = (XLSX, CSV)) -> Spreadsheet:
    """Check an upload and open it, or raise a DomainError (400) saying what to fix: empty, too large,
    an old .xls or another kind of file, a damaged workbook, a CSV in an unknown encoding or that does
    not parse. A workbook and a CSV file are read to their end here, before anything is accepted."""
    if not data:
        raise _refuse(_("The file is empty."), "empty_file", field, _("Empty."))
    if max_bytes is not None and len(data) > max_bytes:
        raise _refuse(_("The file is too large: at most %(n)d MB.") % {"n": max_bytes // 2**20},
                      "file_too_large", field, _("Too large."))
    fmt = spreadsheet_format(data, name, field=field)
    if fmt not in formats:
        raise _refuse(_("Upload an Excel workbook (.xlsx)."), "unsupported_file", field, _("Not a workbook."))
    if fmt == XLSX:
        check_xlsx(data, field=field)
        return Spreadsheet(data, XLSX)
    sheet = Spreadsheet(data, CSV, csv_encoding(data, field=field))
    if "\x00" in data.decode(sheet.encoding):
        raise _refuse(_("This is not a spreadsheet: upload an Excel workbook (.xlsx) or a CSV file."),
                      "unsupported_file", field, _("Not a spreadsheet."))
    try:
        for _row in sheet.rows():
            pass
    except csv.Error as exc:
        raise _refuse(_("The file is not a readable CSV file: %(why)s.") % {"why": exc}, "unreadable_file",
                      field, _("Not readable.")) from exc
    return sheet
