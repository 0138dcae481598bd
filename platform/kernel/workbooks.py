"""Is an uploaded .xlsx readable to its end? Checked before an upload is accepted, so that a damaged
workbook is refused at once with what is wrong in words, not taken with 202 to fail later in a job
(openpyxl in read-only mode opens a workbook whose sheet is cut short and fails only at the cut).

Every part of the archive is read (the zip checks each part's CRC) and every XML part is parsed to
its end with expat (in C: about a second for the largest upload), then openpyxl opens the workbook."""
from __future__ import annotations

import io
import zipfile
import zlib
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
