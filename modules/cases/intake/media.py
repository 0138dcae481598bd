"""What an uploaded case file is, by its content, and its cleaned bytes (modules.cases.intake.uploads
stores them): ``sniff`` the first bytes; photos are decoded, turned upright, converted to sRGB and
re-encoded without their metadata; videos (ISO base media) keep their box structure with every box
that may carry location, camera or other personal data blanked. No database, no storage."""
from __future__ import annotations

import io
import struct
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

from PIL import Image, ImageCms, ImageOps

try:  # HEIC (iPhone photos): decoded with libheif, stored as JPEG.
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIC_SUPPORTED = True
except ImportError:  # pragma: no cover - pillow-heif is a dependency
    HEIC_SUPPORTED = False

MAX_SIDE = 2560  # long side of a stored photo, in pixels
MAX_PIXELS = 50_000_000  # decoded in full (PNG, WebP, HEIC): bounds memory
MAX_JPEG_PIXELS = 120_000_000  # JPEG decodes at a reduced scale (draft mode)
JPEG_QUALITY = 85
WEBP_QUALITY = 85

HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1"}
# MP4 family brands (ISO base media, MPEG-4, AVC/HEVC, DASH, 3GPP) and QuickTime ("qt  ": iPhone
# videos; the same box structure, played by browsers as MP4).
VIDEO_BRANDS = {b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"iso7", b"iso8", b"iso9", b"mp41",
                b"mp42", b"mp71", b"avc1", b"hvc1", b"hev1", b"M4V ", b"M4VH", b"M4VP", b"dash", b"MSNV", b"3gp4",
                b"3gp5", b"3gp6", b"3gp7", b"3gp9", b"3g2a", b"3g2b", b"3g2c", b"f4v ", b"qt  ", b"mmp4"}


class Refused(Exception):
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


def clean_photo(data: bytes, kind: str) -> tuple[bytes, str, int, int]:
    """Decode the whole photo, apply its orientation, downscale, re-encode without any metadata."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=PILLOW_FORMATS[kind])
            if image.format not in DECODED_AS[kind]:
                raise Refused("type")
            width, height = image.size
            if width * height > (MAX_JPEG_PIXELS if kind == "jpeg" else MAX_PIXELS):
                raise Refused("pixels")
            if kind == "jpeg":
                image.draft("RGB", (MAX_SIDE, MAX_SIDE))  # decode at 1/2, 1/4 or 1/8 scale when large
            image.load()  # the full decode: a truncated or corrupt file fails here
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise Refused("pixels") from exc
    except Refused:
        raise
    except Exception as exc:  # Pillow and libheif raise many kinds; all mean "not a valid photo"
        raise Refused("damaged") from exc
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
    except Refused:
        raise
    except Exception as exc:
        raise Refused("damaged") from exc
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
            raise Refused("damaged")
        if end - pos < 8:
            raise Refused("damaged")
        size, kind = struct.unpack_from(">I4s", buf, pos)
        header = 8
        if size == 1:
            if end - pos < 16:
                raise Refused("damaged")
            size = struct.unpack_from(">Q", buf, pos + 8)[0]
            header = 16
        elif size == 0:  # runs to the end of its parent
            size = end - pos
        if kind == b"uuid":
            header += 16
        if size < header or pos + size > end:
            raise Refused("damaged")
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


def clean_video(data: bytes) -> tuple[bytes, int | None, int | None]:
    """Check the box structure (ftyp first, a movie header, media data, a picture track) and blank
    every box that may carry location, camera or other personal data: udta (©xyz location, ©mak
    make, ©mod model ...), meta (Apple's location/make/model keys), uuid and XMP boxes, anything
    unknown at the top, in the movie header and in the tracks."""
    buf = bytearray(data)
    top = list(_boxes(buf, 0, len(buf)))
    if not top or top[0].type != b"ftyp":
        raise Refused("type")
    types = [box.type for box in top]
    if types.count(b"moov") != 1 or b"mdat" not in types:
        raise Refused("video")
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
        raise Refused("video")
    return bytes(buf), size[0], size[1]
