"""Parsing the staff pages' forms and uploads into what the services take: signed points from a
magnitude and the rule's direction, a rule's fields from the rulebook form, an evidence file checked by
its content (photos re-encoded without their location and camera data), and a list of ID numbers
from an .xlsx or .csv file (read by ``batches.files``; any bad row refuses the list, naming the row and
never echoing the number)."""
from __future__ import annotations

import datetime as dt
import io

from django.core.files.base import ContentFile
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from kernel.errors import DomainError
from modules.points.ledger.rules import RULE_FIELDS
from modules.points.models import RuleVersion

MAX_EVIDENCE_MB = 10
INT_FIELDS = ("min_points", "max_points", "default_points", "cap_count", "cap_points")
BOOL_FIELDS = ("evidence_required", "committee_required")


# --- numbers and dates --------------------------------------------------------------------------------

def whole_number(raw, name: str, *, required: bool = True) -> int | None:
    text = str(raw or "").strip().replace("＋", "+").replace("−", "-").replace("－", "-")
    if not text:
        if required:
            raise DomainError(_("Give the points."), fields={name: [_("Required.")]})
        return None
    try:
        return int(text)
    except ValueError:
        raise DomainError(_("Give the points as a whole number."), fields={name: [_("Not a whole number.")]})


def signed_points(raw, version: RuleVersion | None) -> int:
    """The form asks for the size of the award or deduction; the rule's direction gives the sign."""
    value = whole_number(raw, "points")
    if version is None:
        return value
    return abs(value) * version.sign


def day(raw, name: str = "occurred_on") -> dt.date | None:
    text = str(raw or "").strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise DomainError(_("Give the date as YYYY-MM-DD."), fields={name: [_("Not a date.")]})


# --- the rulebook form --------------------------------------------------------------------------------

def rule_fields(post) -> dict:
    """The rule form's fields as ``services.create_rule`` / ``revise_rule`` take them. Text that is not
    a whole number is passed on as it is, so the service names the field."""
    out: dict = {}
    for name in RULE_FIELDS:
        if name in BOOL_FIELDS:
            out[name] = post.get(name) in ("1", "on", "true")
        elif name in INT_FIELDS:
            text = (post.get(name) or "").strip()
            out[name] = None if not text else (int(text) if text.isdigit() and len(text) < 10 else text)
        elif name == "auto_categories":
            text = (post.get(name) or "").replace("，", ",").replace("、", ",")
            out[name] = [c.strip() for c in text.split(",") if c.strip()]
        else:
            out[name] = (post.get(name) or "").strip()
    return out


def rule_form_values(version: RuleVersion | None) -> dict:
    """The form's initial values: a version's fields as text (a new rule: sensible defaults)."""
    if version is None:
        return {"direction": "add", "kind": "civic", "origin": "district", "min_points": "1", "max_points": "10",
                "default_points": "2"}
    values = {}
    for name in RULE_FIELDS:
        value = getattr(version, name)
        if name in BOOL_FIELDS:
            values[name] = value
        elif name == "auto_categories":
            values[name] = ", ".join(value or [])
        elif isinstance(value, dt.date):
            values[name] = value.isoformat()
        else:
            values[name] = "" if value is None else str(value)
    return values


# --- evidence files -----------------------------------------------------------------------------------

def _sniff(head: bytes) -> str | None:
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith(b"%PDF-"):
        return "pdf"
    return None


def evidence_file(upload) -> ContentFile | None:
    """A photo (JPEG, PNG, WebP: re-encoded, so no location or camera data is kept) or a PDF, at most
    ``MAX_EVIDENCE_MB``; checked by content, never by its name."""
    if upload is None:
        return None
    if upload.size > MAX_EVIDENCE_MB * 2**20:
        raise DomainError(_("The evidence file is too large: at most %(n)d MB.") % {"n": MAX_EVIDENCE_MB},
                          fields={"evidence_file": [_("Too large.")]})
    data = upload.read()
    kind = _sniff(data[:16])
    if kind is None:
        raise DomainError(_("Attach a photo (JPEG, PNG, WebP) or a PDF as evidence."),
                          fields={"evidence_file": [_("Not a photo or a PDF.")]})
    if kind == "pdf":
        return ContentFile(data, name="evidence.pdf")
    from PIL import Image, ImageOps

    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > 50_000_000:
                raise ValueError("too many pixels")
            image = ImageOps.exif_transpose(image)
            out = io.BytesIO()
            if kind == "jpeg" or image.mode not in ("RGBA", "LA", "P"):
                image.convert("RGB").save(out, "JPEG", quality=85)
                return ContentFile(out.getvalue(), name="evidence.jpg")
            image.save(out, "PNG")
            return ContentFile(out.getvalue(), name="evidence.png")
    except Exception as exc:  # noqa: BLE001 - Pillow raises many kinds for a broken image
        raise DomainError(_("This photo could not be read; take or choose it again."),
                          fields={"evidence_file": [_("Broken image.")]}) from exc


# --- lists of ID numbers ----------------------------------------------------------------------------

def read_id_numbers(upload) -> list[str]:
    """The valid ID numbers of an uploaded list (.xlsx or .csv, read by ``batches.files``, the API's
    reader). Unlike the API, the page refuses a list with any wrong row: nothing is created, and the
    rows are named with what is wrong (never the number itself)."""
    from modules.points.batches import files as batch_files

    if upload is None:
        raise DomainError(_("Choose the list of ID numbers (.xlsx or .csv) to upload."),
                          fields={"file": [_("Required.")]})
    found = batch_files.read_upload(upload)
    if found.invalid:
        problems = {f"row {p['row']}": [_("Row %(row)d: %(problem)s") % p] for p in found.problems}
        more = found.invalid - len(found.problems)
        if more > 0:
            problems["row more"] = [ngettext("…and %(n)d more row.", "…and %(n)d more rows.", more) % {"n": more}]
        raise DomainError(ngettext("%(n)d row of the list is not a valid ID number; nothing was created. Correct it "
                                   "and upload the file again.",
                                   "%(n)d rows of the list are not valid ID numbers; nothing was created. Correct "
                                   "them and upload the file again.", found.invalid) % {"n": found.invalid},
                          fields=problems, code="invalid_rows")
    return found.numbers


def id_list_template() -> bytes:
    """A workbook to fill in: one column 身份证号 formatted as text (so Excel keeps every digit)."""
    import openpyxl
    from openpyxl.styles import Font

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "名单"
    sheet.append(["身份证号", "姓名（可选）"])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.column_dimensions["A"].width = 24
    sheet.column_dimensions["B"].width = 14
    for row in range(2, 2002):
        sheet.cell(row=row, column=1).number_format = "@"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
