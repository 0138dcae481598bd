"""QR symbols of the codes: the scan URL, segno's matrix, and the dark runs that the PDF and SVG draw.

segno picks the data mask the standard way (ISO/IEC 18004 7.8.3: all eight masks, lowest penalty
wins), but scores each mask module by module in Python: about 3 ms a code, too slow to print 30,000
codes at 500/s. ``matrix()`` asks segno for the symbol with mask 0, takes the mask off again, and
scores the eight masks on the whole matrix at once (one integer; a few dozen big-integer operations
a mask). It applies segno's own scoring rules, so the result is segno's symbol module for module
(checked once per process, and by ``tests/codes/test_decode.py``); if segno's internals ever change
shape it falls back to ``segno.make_qr``.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import lru_cache

import segno

log = logging.getLogger(__name__)

QUIET_ZONE = 4  # modules of light margin around the symbol; the standard asks for 4
ERROR_LEVELS = ("M", "Q")

_RUNS = re.compile("1+")
_N3 = "1011101"
_TO_BITS = bytes.maketrans(b"\x00\x01", b"01")


@dataclass(frozen=True)
class Symbol:
    text: str
    rows: tuple[str, ...]  # one string of "0"/"1" per row, without the quiet zone
    version: int
    error: str
    mask: int

    @property
    def size(self) -> int:
        return len(self.rows)

    def runs(self):
        """(row, column, length) of every horizontal run of dark modules."""
        for r, row in enumerate(self.rows):
            for m in _RUNS.finditer(row):
                yield r, m.start(), m.end() - m.start()


def scan_url(site: str, token: str) -> str:
    """What a code opens; ``site`` is an origin (``http://192.168.1.20:8000``) or a bare domain (https)."""
    return f"{site if '://' in site else 'https://' + site}/c/{token}"


# --- segno's mask evaluation, on the whole matrix at once -------------------------------------------
#
# A matrix is one integer: row i occupies bits [GUARD + i * stride, GUARD + i * stride + size) with
# stride = size + GUARD, column 0 the highest bit of its row, and GUARD light bits below and between
# rows. Shifting by 1 moves along a row, by ``stride`` down a column; the guard bits stand for the
# light edge that segno's N3 rule treats as light, and the masks below keep the rest from leaking.

GUARD = 8


@dataclass(frozen=True)
class _Layout:
    size: int
    stride: int
    bits: int
    template: int  # function patterns while masks are scored (format and version areas light)
    region: int  # the encoding region
    masks: tuple[int, ...]  # each data mask, inside the encoding region
    overlays: dict  # (error, mask) -> format and version information as segno writes them
    cells: int  # every module
    pairs: int  # modules with a right-hand neighbour in the same row
    upper: int  # modules with a neighbour below (all rows but the last)


def _pack(rows, size: int) -> int:
    """Rows ("0"/"1" strings or 0/1 bytearrays) as one integer in the layout above."""
    guard = "0" * GUARD
    if rows and not isinstance(rows[0], str):
        rows = [bytes(r).translate(_TO_BITS).decode() for r in rows]
    return int("".join(rows[i] + guard for i in range(size - 1, -1, -1)), 2)


def _unpack(value: int, layout: _Layout) -> tuple[str, ...]:
    text = format(value, f"0{layout.bits}b")
    bits, size, stride = layout.bits, layout.size, layout.stride
    return tuple(text[bits - (GUARD + i * stride) - size:bits - (GUARD + i * stride)] for i in range(size))


@lru_cache(maxsize=64)
def _layout(version: int) -> _Layout:
    from segno import encoder

    size = encoder.calc_matrix_size(version)
    function = encoder.make_matrix(size, size)
    encoder.add_finder_patterns(function, size, size)
    encoder.add_alignment_patterns(function, size, size)
    template = [bytearray(r) for r in function]
    function[-8][8] = 0x1  # segno counts the dark module as a function pattern
    region = [bytearray(int(function[i][j] > 0x1) for j in range(size)) for i in range(size)]
    for i in range(size):
        for j in range(size):
            if region[i][j]:
                template[i][j] = 0
            elif template[i][j] > 1:
                raise ValueError("unexpected module value in segno's function pattern")
    masks = tuple(_pack([bytearray(int(region[i][j] and bool(fn(i, j))) for j in range(size)) for i in range(size)],
                        size) for fn in encoder.get_data_mask_functions(False))
    overlays = {}
    for error in ERROR_LEVELS:
        for number in range(8):
            blank = tuple(bytearray(size) for _ in range(size))
            encoder.add_format_info(blank, version, encoder.normalize_errorlevel(error), number)
            encoder.add_version_info(blank, version)
            overlays[error, number] = _pack(blank, size)
    stride = size + GUARD
    return _Layout(size=size, stride=stride, bits=size * stride, template=_pack(template, size),
                   region=_pack(region, size), masks=masks, overlays=overlays,
                   cells=_pack(["1" * size] * size, size), pairs=_pack(["0" + "1" * (size - 1)] * size, size),
                   upper=_pack(["1" * size] * (size - 1) + ["0" * size], size))


def _n3(seq: str) -> int:
    """segno's N3: a 1:1:3:1:1 finder-like pattern with four light modules (or the edge) on one side.
    ``seq`` holds one line padded with four light modules each side, which stands for the edge."""
    score = 0
    idx = seq.find(_N3)
    while idx != -1:
        offset = idx + 7
        if "1" not in seq[idx - 4:idx] or "1" not in seq[offset:offset + 4]:
            score += 40
        else:
            offset = idx + 4
        idx = seq.find(_N3, offset)
    return score


def _runs_score(window: int, step: int) -> int:
    """N1 from the windows of five alike modules: a run of L >= 5 scores L - 2 = (L - 4) windows + 2."""
    return window.bit_count() + 2 * (window & ~(window >> step)).bit_count()


def _penalty(x: int, layout: _Layout) -> int:
    """segno's penalty score N1 + N2 + N3 + N4 of one masked matrix."""
    s = layout.stride
    same = ~(x ^ (x >> 1)) & layout.pairs
    n1 = _runs_score(same & (same >> 1) & (same >> 2) & (same >> 3), 1)
    alike = ~(x ^ (x >> s)) & layout.upper
    n1 += _runs_score(alike & (alike >> s) & (alike >> 2 * s) & (alike >> 3 * s), s)
    diff = x ^ (x >> s)
    n2 = (~(diff | (diff >> 1) | (x ^ (x >> 1))) & layout.pairs & layout.upper).bit_count()
    # N3, along rows then columns: a pattern 1011101 starting at bit q, light before or after it
    found = x & (x >> 2) & (x >> 3) & (x >> 4) & (x >> 6) & ~((x >> 1) | (x >> 5))
    light = ~((x >> 7) | (x >> 8) | (x >> 9) | (x >> 10)) | ~((x << 1) | (x << 2) | (x << 3) | (x << 4))
    overlap = found & ((found >> 4) | (found >> 6))
    n3 = 40 * (found & light).bit_count()
    found = x & ~(x >> s) & (x >> 2 * s) & (x >> 3 * s) & (x >> 4 * s) & ~(x >> 5 * s) & (x >> 6 * s) & layout.cells
    light = ~((x << s) | (x << 2 * s) | (x << 3 * s) | (x << 4 * s)) | ~(
        (x >> 7 * s) | (x >> 8 * s) | (x >> 9 * s) | (x >> 10 * s))
    n3 += 40 * (found & light).bit_count()
    overlap |= found & ((found >> 4 * s) | (found >> 6 * s))
    if overlap:  # patterns sharing modules: segno's left-to-right scan decides which count
        rows = _unpack(x, layout)
        n3 = sum(_n3(f"0000{line}0000") for line in rows) + sum(
            _n3("0000" + "".join(col) + "0000") for col in zip(*rows, strict=True))
    dark = x.bit_count()
    n4 = 10 * int(abs(float(dark) / (layout.size ** 2) * 100 - 50) / 5)
    return n1 + 3 * n2 + n3 + n4


def _fast(text: str, error: str) -> Symbol:
    first = segno.make_qr(text, error=error, mask=0, boost_error=False)
    layout = _layout(first.version)
    unmasked = (_pack(first.matrix, layout.size) & layout.region) ^ layout.masks[0]
    best, best_score, best_value = 0, None, 0
    for number, mask in enumerate(layout.masks):
        value = layout.template | (unmasked ^ mask)
        score = _penalty(value, layout)
        if best_score is None or score < best_score:
            best, best_score, best_value = number, score, value
    rows = _unpack(best_value | layout.overlays[error, best], layout)
    return Symbol(text=text, rows=rows, version=first.version, error=error, mask=best)


def _plain(text: str, error: str) -> Symbol:
    qr = segno.make_qr(text, error=error, boost_error=False)
    return Symbol(text=text, rows=tuple(bytes(r).translate(_TO_BITS).decode() for r in qr.matrix),
                  version=qr.version, error=error, mask=qr.mask)


@lru_cache(maxsize=1)
def _fast_path_works() -> bool:
    """The fast path must give segno's symbol; checked once per process on a few samples."""
    try:
        samples = ["https://example.localhost/c/AAAAAAAAAAAAAAAAAAAAAA", "https://a.b/c/0123456789abcdefghijKL",
                   "https://kangbashi.example.gov.cn/c/Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA"]
        return all(_fast(s, e) == _plain(s, e) for s in samples for e in ERROR_LEVELS)
    except Exception:  # segno's internals changed: use its public API only
        log.warning("segno internals changed; QR print runs use the slower public API")
        return False


def matrix(text: str, error: str = "M") -> Symbol:
    """The QR symbol (never Micro QR) for ``text`` at error correction level M or Q."""
    if error not in ERROR_LEVELS:
        raise ValueError(f"error correction level must be one of {ERROR_LEVELS}")
    return _fast(text, error) if _fast_path_works() else _plain(text, error)


def svg(symbol: Symbol, *, size_mm: float = 30.0, title: str = "") -> str:
    """A print-ready SVG: dark runs as one path, the quiet zone kept, sized in millimetres."""
    from xml.sax.saxutils import escape

    full = symbol.size + 2 * QUIET_ZONE
    path = "".join(f"M{c + QUIET_ZONE} {r + QUIET_ZONE}h{n}v1h-{n}z" for r, c, n in symbol.runs())
    caption = f"<title>{escape(title)}</title>" if title else ""
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{size_mm}mm" height="{size_mm}mm" '
            f'viewBox="0 0 {full} {full}" shape-rendering="crispEdges">{caption}'
            f'<desc>{escape(symbol.text)}</desc>'
            f'<rect width="{full}" height="{full}" fill="#fff"/><path fill="#000" d="{path}"/></svg>')
