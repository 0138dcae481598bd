"""Photos and short videos of cases: checked by their content (never by name or the browser's content
type), stripped of location and camera data, then stored under the district's prefix.

``prepare`` reads and cleans the uploaded files (no database, no storage); ``attach`` stores the
cleaned files of one case and stage in one transaction with an audit entry. Files written to storage
are deleted again when that transaction fails; ``atomic`` extends that to a caller's larger
transaction (create the case and attach its photos together), and ``sweep_orphan_files`` removes what
a crash between storage and commit could still leave behind."""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import struct
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from PIL import Image, ImageCms, ImageOps

from kernel import audit
from kernel.errors import Conflict, DomainError, NotAllowed
from kernel.selectors import module_config
from modules.cases.models import Attachment, Case

try:  # HEIC (iPhone photos): decoded with libheif, stored as JPEG.
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIC_SUPPORTED = True
except ImportError:  # pragma: no cover - pillow-heif is a dependency
    HEIC_SUPPORTED = False

log = logging.getLogger(__name__)

MAX_FILES = 9  # per upload, and per case and stage in total
MAX_VIDEOS = 1
MAX_PHOTO_MB = 15
MAX_PHOTO_BYTES = MAX_PHOTO_MB * 1024 * 1024
MAX_SIDE = 2560  # long side of a stored photo, in pixels
MAX_PIXELS = 50_000_000  # decoded in full (PNG, WebP, HEIC): bounds memory
MAX_JPEG_PIXELS = 120_000_000  # JPEG decodes at a reduced scale (draft mode)
JPEG_QUALITY = 85
WEBP_QUALITY = 85
NAME_MAX = 80  # of a file name quoted back in an error message

HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1"}
# MP4 family brands (ISO base media, MPEG-4, AVC/HEVC, DASH, 3GPP) and QuickTime ("qt  ": iPhone
# videos; the same box structure, played by browsers as MP4).
VIDEO_BRANDS = {b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"iso7", b"iso8", b"iso9", b"mp41",
                b"mp42", b"mp71", b"avc1", b"hvc1", b"hev1", b"M4V ", b"M4VH", b"M4VP", b"dash", b"MSNV", b"3gp4",
                b"3gp5", b"3gp6", b"3gp7", b"3gp9", b"3g2a", b"3g2b", b"3g2c", b"f4v ", b"qt  ", b"mmp4"}

STAGE_STATUSES = {
    Attachment.Stage.REPORT: [str(s) for s in Case.OPEN],
    Attachment.Stage.RESULT: [Case.Status.ACCEPTED, Case.Status.IN_PROGRESS, Case.Status.RESOLVED],
}


@dataclass(frozen=True)
class Prepared:
    """One checked and cleaned file, ready to store. ``data`` is what will be stored (re-encoded
    photo, or the video with its metadata boxes blanked); ``name`` is the uploader's file name, kept
    for messages only."""

    data: bytes = field(repr=False)
    content_type: str
    kind: str  # Attachment.Kind: "photo" or "video"
    width: int | None
    height: int | None
    sha256: str
    size: int
    name: str = ""

    @property
    def bytes(self) -> bytes:  # noqa: A003 - the name the callers know
        return self.data


class _Bad(Exception):
    """A file that is not what it claims: carries the user-facing reason."""


# --- sniffing -------------------------------------------------------------------------------------

def _ftyp_brands(head: bytes) -> tuple[bytes, set[bytes]] | None:
    if len(head) < 16 or head[4:8] != b"ftyp":
        return None
    size = struct.unpack(">I", head[:4])[0]
    if size < 16:
        return None
    body = head[8:min(size, len(head))]
    major = body[:4]
    compatible = {body[i:i + 4] for i in range(8, len(body) - 3, 4)}
    return major, compatible | {major}


def sniff(head: bytes) -> str | None:
    """What the first bytes say the file is: "jpeg", "png", "webp", "heic", "mp4" or None."""
    if head[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    brands = _ftyp_brands(head)
    if brands is not None:
        major, all_brands = brands
        if major in HEIF_BRANDS or (major not in VIDEO_BRANDS and all_brands & HEIF_BRANDS):
            return "heic"
        if all_brands & VIDEO_BRANDS:
            return "mp4"
    return None


# --- photos ---------------------------------------------------------------------------------------

PILLOW_FORMATS = {"jpeg": ["JPEG"], "png": ["PNG"], "webp": ["WEBP"], "heic": ["HEIF"]}
DECODED_AS = {"jpeg": {"JPEG", "MPO"}, "png": {"PNG"}, "webp": {"WEBP"}, "heic": {"HEIF"}}
STORED_AS = {"jpeg": ("JPEG", "image/jpeg"), "heic": ("JPEG", "image/jpeg"), "png": ("PNG", "image/png"),
             "webp": ("WEBP", "image/webp")}
PNG_MODES = {"1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"}


def _to_srgb(image: Image.Image) -> Image.Image:
    """Colours into sRGB so the colour profile can be dropped with the rest of the metadata."""
    icc = image.info.get("icc_profile")
    if not icc or image.mode not in ("RGB", "RGBA"):
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"), outputMode=image.mode)
    except (ImageCms.PyCMSError, OSError, ValueError):
        return image  # an odd profile: keep the pixels as they are


def _flatten(image: Image.Image) -> Image.Image:
    """An RGB (or grey) image for JPEG: transparency onto white, other modes converted."""
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, "white")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image if image.mode in ("RGB", "L") else image.convert("RGB")


def _clean_photo(data: bytes, kind: str) -> tuple[bytes, str, int, int]:
    """Decode the whole photo, apply its orientation, downscale, re-encode without any metadata."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=PILLOW_FORMATS[kind])
            if image.format not in DECODED_AS[kind]:
                raise _Bad("type")
            width, height = image.size
            if width * height > (MAX_JPEG_PIXELS if kind == "jpeg" else MAX_PIXELS):
                raise _Bad("pixels")
            if kind == "jpeg":
                image.draft("RGB", (MAX_SIDE, MAX_SIDE))  # decode at 1/2, 1/4 or 1/8 scale when large
            image.load()  # the full decode: a truncated or corrupt file fails here
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _Bad("pixels") from exc
    except _Bad:
        raise
    except Exception as exc:  # Pillow and libheif raise many kinds; all mean "not a valid photo"
        raise _Bad("damaged") from exc
    try:
        icc = image.info.get("icc_profile")
        image = ImageOps.exif_transpose(image)  # EXIF orientation applied, then the tag goes with EXIF
        if icc:
            image.info["icc_profile"] = icc
        image = _to_srgb(image)
        if max(image.size) > MAX_SIDE:
            image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
        pil_format, content_type = STORED_AS[kind]
        if pil_format == "JPEG":
            image = _flatten(image)
            options = {"quality": JPEG_QUALITY, "optimize": True}
        elif pil_format == "WEBP":
            has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
            image = image.convert("RGBA" if has_alpha else "RGB")
            options = {"quality": WEBP_QUALITY, "method": 4}
        else:
            if image.mode not in PNG_MODES:
                image = image.convert("RGBA")
            options = {"optimize": False}
        # Nothing of the original file's metadata may ride along (PNG falls back to info for ICC).
        keep = {"transparency": image.info["transparency"]} if (
            pil_format == "PNG" and "transparency" in image.info) else {}
        image.info = keep
        out = io.BytesIO()
        image.save(out, pil_format, **options)
    except _Bad:
        raise
    except Exception as exc:
        raise _Bad("damaged") from exc
    return out.getvalue(), content_type, image.width, image.height


# --- videos (ISO base media file format) ----------------------------------------------------------

TOP_KEEP = {b"ftyp", b"styp", b"moov", b"mdat", b"moof", b"mfra", b"free", b"skip", b"wide", b"sidx", b"ssix",
            b"prft", b"emsg", b"pdin"}
MOOV_KEEP = {b"mvhd", b"trak", b"mvex", b"iods", b"free", b"skip", b"wide", b"pssh"}
TRAK_KEEP = {b"tkhd", b"mdia", b"edts", b"tref", b"trgr", b"free", b"skip", b"wide", b"load", b"imap", b"txas",
             b"clip", b"matt", b"tapt"}
STRIP_ANYWHERE = {b"udta", b"meta", b"uuid", b"XMP_"}


@dataclass
class _Box:
    type: bytes
    start: int
    header: int
    size: int

    @property
    def body(self) -> int:
        return self.start + self.header

    @property
    def end(self) -> int:
        return self.start + self.size


MAX_BOXES = 10_000  # per container: real files have a handful (a fragmented one, a few hundred)


def _boxes(buf, start: int, end: int) -> Iterator[_Box]:
    pos, count = start, 0
    while pos < end:
        count += 1
        if count > MAX_BOXES:
            raise _Bad("damaged")
        if end - pos < 8:
            raise _Bad("damaged")
        size, kind = struct.unpack_from(">I4s", buf, pos)
        header = 8
        if size == 1:
            if end - pos < 16:
                raise _Bad("damaged")
            size = struct.unpack_from(">Q", buf, pos + 8)[0]
            header = 16
        elif size == 0:  # runs to the end of its parent
            size = end - pos
        if kind == b"uuid":
            header += 16
        if size < header or pos + size > end:
            raise _Bad("damaged")
        yield _Box(kind, pos, header, size)
        pos += size


def _blank(buf: bytearray, box: _Box) -> None:
    """Turn the box into a 'free' box of the same size, its payload zeroed: nothing after it moves, so
    chunk offsets (stco/co64) stay right whether moov comes before or after mdat."""
    type_at = box.start + 4
    buf[type_at:type_at + 4] = b"free"
    payload = box.start + (16 if struct.unpack_from(">I", buf, box.start)[0] == 1 else 8)
    buf[payload:box.end] = bytes(box.end - payload)


def _clean_children(buf: bytearray, parent: _Box, keep: set[bytes] | None) -> list[_Box]:
    """Blank the children of ``parent`` that are not in ``keep`` (or, with keep None, the metadata ones)."""
    kept = []
    for box in list(_boxes(buf, parent.body, parent.end)):
        if box.type in STRIP_ANYWHERE or (keep is not None and box.type not in keep):
            _blank(buf, box)
        else:
            kept.append(box)
    return kept


def _track_info(buf, trak: _Box) -> tuple[bytes, int, int]:
    """The handler type ("vide", "soun", ...) and the presentation size of one track."""
    handler, width, height = b"", 0, 0
    for box in _boxes(buf, trak.body, trak.end):
        if box.type == b"tkhd" and box.size - box.header >= 84:
            version = buf[box.body]
            matrix_at = box.body + (52 if version == 1 else 40)
            a, b = struct.unpack_from(">ii", buf, matrix_at)
            width, height = (v >> 16 for v in struct.unpack_from(">II", buf, box.end - 8))
            if a == 0 and abs(b) == 0x10000:  # turned by 90° or 270°: shown upright
                width, height = height, width
        elif box.type == b"mdia":
            for sub in _boxes(buf, box.body, box.end):
                if sub.type == b"hdlr" and sub.size - sub.header >= 12:
                    handler = bytes(buf[sub.body + 8:sub.body + 12])
    return handler, width, height


def _clean_video(data: bytes) -> tuple[bytes, int | None, int | None]:
    """Check the box structure (ftyp first, a movie header, media data, a picture track) and blank
    every box that may carry location, camera or other personal data: udta (©xyz location, ©mak
    make, ©mod model ...), meta (Apple's location/make/model keys), uuid and XMP boxes, anything
    unknown at the top, in the movie header and in the tracks."""
    buf = bytearray(data)
    top = list(_boxes(buf, 0, len(buf)))
    if not top or top[0].type != b"ftyp":
        raise _Bad("type")
    types = [box.type for box in top]
    if types.count(b"moov") != 1 or b"mdat" not in types:
        raise _Bad("video")
    size = None
    for box in top:
        if box.type not in TOP_KEEP or box.type in STRIP_ANYWHERE:
            _blank(buf, box)
        elif box.type == b"moov":
            for child in _clean_children(buf, box, MOOV_KEEP):
                if child.type != b"trak":
                    continue
                for part in _clean_children(buf, child, TRAK_KEEP):
                    if part.type == b"mdia":
                        for sub in _clean_children(buf, part, None):
                            if sub.type == b"minf":
                                _clean_children(buf, sub, None)
                handler, width, height = _track_info(buf, child)
                if handler == b"vide" and size is None:
                    size = (width or None, height or None)
        elif box.type in (b"moof", b"mfra"):
            _clean_children(buf, box, None)
    if size is None:
        raise _Bad("video")
    return bytes(buf), size[0], size[1]


# --- prepare --------------------------------------------------------------------------------------

def _display_name(upload) -> str:
    name = (getattr(upload, "name", "") or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    name = "".join(ch for ch in name if ch.isprintable()) or _("file")
    return name if len(name) <= NAME_MAX else name[:NAME_MAX - 1] + "…"


def _read(upload, limit: int | None = None) -> bytes:
    if hasattr(upload, "seek"):
        upload.seek(0)
    return upload.read() if limit is None else upload.read(limit)


def _message(reason: str, name: str, *, video_mb: int) -> str:
    messages = {
        "type": _("%(name)s: not a JPEG, PNG, WebP, HEIC photo or an MP4 video."),
        "empty": _("%(name)s: the file is empty."),
        "damaged": _("%(name)s: the file is damaged or incomplete; take or save it again."),
        "video": _("%(name)s: not a playable MP4 video (no picture track); record it again."),
        "pixels": _("%(name)s: the photo has too many pixels; send a smaller one."),
        "photo_size": _("%(name)s: a photo may be at most %(mb)d MB."),
        "video_size": _("%(name)s: a video may be at most %(mb)d MB; record a shorter one."),
        "heic": _("%(name)s: HEIC photos cannot be read here; send it as JPEG."),
    }
    mb = video_mb if reason == "video_size" else MAX_PHOTO_MB
    return messages[reason] % {"name": name, "mb": mb}


def _files_error(messages: list[str]) -> DomainError:
    return DomainError(messages[0], fields={"files": messages})


def prepare(files: Iterable, *, max_files: int = MAX_FILES) -> list[Prepared]:
    """Check uploaded files by their content and return cleaned copies, in order.

    Photos (JPEG, PNG, WebP, HEIC; at most 15 MB each) are fully decoded, turned upright by their
    EXIF orientation, scaled to at most 2560 px on the long side and re-encoded without EXIF, GPS,
    XMP or colour profile (JPEG quality 85; HEIC becomes JPEG). Videos (MP4; at most the district's
    ``max_video_mb``; at most one) keep their bytes, with every metadata box blanked. Raises
    ``DomainError`` with ``fields={"files": [...]}`` naming each file that was refused and why."""
    files = list(files)
    if len(files) > max_files:
        raise DomainError(_("Send at most %(n)d photos or videos at a time.") % {"n": max_files},
                          fields={"files": [_("At most %(n)d files.") % {"n": max_files}]})
    video_mb = int(module_config("cases").get("max_video_mb", 30))
    errors: list[str] = []
    out: list[Prepared] = []
    videos = 0
    for upload in files:
        name = _display_name(upload)
        try:
            head = _read(upload, 64)
            if not head:
                raise _Bad("empty")
            kind = sniff(head)
            if kind is None:
                raise _Bad("type")
            size = getattr(upload, "size", None)
            limit = video_mb * 1024 * 1024 if kind == "mp4" else MAX_PHOTO_BYTES
            if size is not None and size > limit:
                raise _Bad("video_size" if kind == "mp4" else "photo_size")
            data = _read(upload, limit + 1)
            if len(data) > limit:
                raise _Bad("video_size" if kind == "mp4" else "photo_size")
            if kind == "mp4":
                videos += 1
                cleaned, width, height = _clean_video(data)
                content_type, attachment_kind = "video/mp4", Attachment.Kind.VIDEO
            else:
                if kind == "heic" and not HEIC_SUPPORTED:  # pragma: no cover
                    raise _Bad("heic")
                cleaned, content_type, width, height = _clean_photo(data, kind)
                attachment_kind = Attachment.Kind.PHOTO
        except _Bad as bad:
            errors.append(_message(str(bad), name, video_mb=video_mb))
            continue
        out.append(Prepared(data=cleaned, content_type=content_type, kind=attachment_kind, width=width,
                            height=height, sha256=hashlib.sha256(cleaned).hexdigest(), size=len(cleaned),
                            name=name))
    if videos > MAX_VIDEOS:
        errors.append(_("Send one video at most; choose the one that shows the problem best."))
    if errors:
        raise _files_error(errors)
    return out


# --- storing --------------------------------------------------------------------------------------

_written: ContextVar[tuple[list[str], ...]] = ContextVar("cases_uploads_written", default=())


def _discard(names: Iterable[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:  # pragma: no cover - logged; the sweep gets it later
            log.warning("could not delete an uploaded file after a rollback", extra={"file": name})


@contextmanager
def atomic():
    """``transaction.atomic()`` that also deletes the files ``attach`` wrote inside it when the block
    fails. Views that create a case and attach its photos in one transaction use it."""
    written: list[str] = []
    token = _written.set((*_written.get(), written))
    try:
        with transaction.atomic():
            yield
    except BaseException:
        _discard(written)
        raise
    finally:
        _written.reset(token)


def _require_may_attach(user, case: Case, stage: str, trusted: bool) -> None:
    from modules.cases import services

    if stage == Attachment.Stage.REPORT:
        if not trusted and not (user and case.reporter_id == user.pk):
            raise NotAllowed(_("Only the person who reported the case may add photos or a video to the report."))
    else:
        services._require_handler(user, case, _("add result photos to"))
    if case.status not in STAGE_STATUSES[stage]:
        if stage == Attachment.Stage.REPORT:
            message = _("Photos can be added to a report only while the case is open.")
        else:
            message = _("Result photos can be added only while the case is accepted, in progress or resolved.")
        raise Conflict(message, code="wrong_status")


def attach(*, actor, case: Case, prepared: list[Prepared], stage: str = Attachment.Stage.REPORT, now=None,
           trusted: bool = False) -> list[Attachment]:
    """Store prepared files on a case, in one transaction with an audit entry.

    Stage ``report``: the case's signed-in reporter while the case is open; ``trusted=True`` lets a
    view attach to the case it has just created in the same request (an anonymous reporter).
    Stage ``result``: the case's handler or a supervisor while the case is accepted, in progress or
    resolved. A case keeps at most 9 files and 1 video per stage. A file already on the case and
    stage (same SHA-256) is not stored twice: its existing row is returned. Returns one row per
    distinct file, in order. Files written to storage are deleted again if the transaction fails."""
    from modules.cases.services import _user

    user = _user(actor)
    now = now or timezone.now()
    if stage not in Attachment.Stage.values:
        raise DomainError(_("Stage is report or result."), fields={"stage": [_("Unknown stage.")]})
    if not prepared:
        return []
    written: list[str] = []
    collectors = _written.get()
    try:
        with transaction.atomic():
            case = Case.objects.select_for_update().get(pk=case.pk)
            _require_may_attach(user, case, stage, trusted)
            existing = {a.sha256: a for a in Attachment.objects.filter(case=case, stage=stage)}
            unique: dict[str, Prepared] = {}
            for item in prepared:
                unique.setdefault(item.sha256, item)
            new = [item for sha, item in unique.items() if sha not in existing]
            room = MAX_FILES - len(existing)
            if len(new) > room:
                message = _("A case keeps at most %(n)d photos and videos for its %(stage)s; %(left)d more can "
                            "be added.") % {"n": MAX_FILES, "stage": Attachment.Stage(stage).label, "left": room}
                raise DomainError(message, fields={"files": [message]})
            videos = sum(1 for a in existing.values() if a.kind == Attachment.Kind.VIDEO)
            if videos + sum(1 for item in new if item.kind == Attachment.Kind.VIDEO) > MAX_VIDEOS:
                message = _("A case keeps one video for its %(stage)s.") % {"stage": Attachment.Stage(stage).label}
                raise DomainError(message, fields={"files": [message]})
            rows = []
            for sha, item in unique.items():
                if sha in existing:
                    rows.append(existing[sha])
                    continue
                row = Attachment(case=case, stage=stage, kind=item.kind, content_type=item.content_type,
                                 size=item.size, sha256=sha, width=item.width, height=item.height,
                                 uploaded_by=user, uploaded_at=now)
                # The storage name is random (models.attachment_path); the uploader's name is not kept.
                row.file.save("upload", ContentFile(item.data), save=False)
                written.append(row.file.name)
                for collector in collectors:
                    collector.append(row.file.name)
                row.save()
                rows.append(row)
            if new:
                added = {item.sha256 for item in new}
                audit.record(actor=user, action="cases.attach", target=case,
                             after={"stage": stage, "trusted": trusted and user is None,
                                    "files": [{"id": r.pk, "kind": r.kind, "content_type": r.content_type,
                                               "size": r.size, "sha256": r.sha256} for r in rows
                                              if r.sha256 in added]})
    except BaseException:
        _discard(written)
        raise
    return rows


def attachment_url(attachment: Attachment) -> str:
    """Where a signed-in user who may see the case gets the file (for ``<img src>`` / ``<video src>``)."""
    return reverse("api-cases:attachment", kwargs={"pk": attachment.case_id, "attachment_id": attachment.pk})


def sweep_orphan_files(*, older_than: dt.timedelta = dt.timedelta(hours=6), now=None) -> int:
    """Delete stored case files of the current district that no attachment row names and that are
    older than ``older_than`` (left by a crash, or by a caller's plain transaction that rolled back
    after ``attach``). Returns how many were deleted."""
    now = now or timezone.now()
    try:
        _dirs, names = default_storage.listdir("cases")
    except FileNotFoundError:
        return 0
    known = set(Attachment.objects.values_list("file", flat=True))
    removed = 0
    for base in names:
        name = f"cases/{base}"
        if name in known:
            continue
        try:
            if now - default_storage.get_modified_time(name) < older_than:
                continue
        except (FileNotFoundError, NotImplementedError):
            continue
        _discard([name])
        removed += 1
    return removed
