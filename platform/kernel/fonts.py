"""The CJK font that PDFs embed (print runs today). Found at run time: the ``CJK_FONT`` setting
(environment ``CJK_FONT``: a .ttf or .ttc file, ``path#N`` for the N-th face of a collection), else
the first of Debian's CJK TrueType fonts that is installed. reportlab embeds a subset of the glyphs a
document uses, so the PDF shows and extracts (copy, search, poppler's pdftotext) the same text on a
machine without the font. reportlab reads TrueType outlines only: OpenType/CFF fonts (the .otf and
.ttc files of Debian's fonts-noto-cjk) are refused, which is why WenQuanYi comes first.

A non-embedded CID font (reportlab's STSong-Light, used before) is not enough: viewers substitute
whatever they have, and poppler maps U+00B7 "·" to U+FFFD ("多多评�码上生活").
"""
from __future__ import annotations

import shutil
import subprocess
import threading
from pathlib import Path

from django.conf import settings

FONT_NAME = "MashangCJK"
INSTALL_HINT = "apt-get install fonts-wqy-microhei"
# TrueType-outline CJK fonts of Debian (package: path), in order of preference.
KNOWN = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",  # fonts-wqy-microhei (5 MB)
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",  # fonts-wqy-zenhei
    "/usr/share/fonts/truetype/arphic/uming.ttc",  # fonts-arphic-uming
    "/usr/share/fonts/truetype/arphic/ukai.ttc",  # fonts-arphic-ukai
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",  # fonts-droid-fallback
)
SAMPLE = "多多评·码上生活"  # what every district's plates say; the font must have all of it


class CJKFontMissing(RuntimeError):
    """No usable CJK TrueType font: the message says what to install or set."""


def _split(spec: str) -> tuple[str, int]:
    path, _, index = spec.partition("#")
    return path, int(index) if index.strip().isdigit() else 0


def _candidates():
    """(path, face index, configured?) in the order they are tried; fontconfig is asked only when
    none of the known files is there."""
    configured = (getattr(settings, "CJK_FONT", "") or "").strip()
    if configured:
        yield (*_split(configured), True)
        return
    known = [p for p in KNOWN if Path(p).is_file()]
    yield from ((p, 0, False) for p in known)
    fc_list = shutil.which("fc-list")
    if known or not fc_list:
        return
    try:  # any other TrueType CJK font fontconfig knows (fonts-noto-cjk's are CFF: refused on load)
        out = subprocess.run([fc_list, ":lang=zh", "file", "index"], capture_output=True, text=True,
                             timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return
    for line in sorted(set(out.splitlines())):
        path, _, rest = line.partition(":")
        index = rest.rpartition("=")[2].strip() if "index=" in rest else "0"
        if path.lower().endswith((".ttf", ".ttc")):
            yield path, int(index) if index.isdigit() else 0, False


def load(path: str, index: int = 0):
    """A reportlab TTFont for a file, or CJKFontMissing saying why it cannot be used."""
    from reportlab.pdfbase.ttfonts import TTFError, TTFont

    try:
        font = TTFont(FONT_NAME, path, subfontIndex=index)
    except (TTFError, OSError, ValueError) as exc:
        raise CJKFontMissing(f"cannot use {path}#{index} as the CJK font: {exc}") from exc
    missing = [ch for ch in SAMPLE if ord(ch) not in font.face.charToGlyph]
    if missing:
        raise CJKFontMissing(f"{path}#{index} has no glyph for {''.join(missing)!r}")
    return font


_lock = threading.Lock()
_registered: str | None = None


def cjk_font() -> str:
    """Register the CJK font with reportlab once per process and return its name for setFont."""
    global _registered
    if _registered:
        return _registered
    with _lock:
        if _registered:
            return _registered
        from reportlab.pdfbase import pdfmetrics

        problems = []
        for path, index, configured in _candidates():
            try:
                font = load(path, index)
            except CJKFontMissing as exc:
                if configured:
                    raise CJKFontMissing(f"{exc} (set by CJK_FONT)") from exc
                problems.append(str(exc))
                continue
            pdfmetrics.registerFont(font)
            _registered = FONT_NAME
            return _registered
        tried = f" Tried: {'; '.join(problems)}." if problems else ""
        raise CJKFontMissing(
            "No CJK TrueType font to embed in PDFs: install one (" + INSTALL_HINT + ") or set CJK_FONT to a "
            ".ttf/.ttc file (path#N for the N-th face of a collection; OpenType/CFF .otf fonts cannot be "
            "embedded)." + tried)

