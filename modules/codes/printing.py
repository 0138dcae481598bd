"""Print-ready output of codes: A4 PDF sheets (several codes a sheet, each with its address or name
and the district's name and colour) and a ZIP of SVGs.

Fast by construction: the parts that are the same on every cell of a kind (cut marks, frame, the
branded band, the kind's name) are drawn once as a PDF form and placed by reference; a QR symbol
is one path of its dark runs in module units under a scaling matrix (no raster, no per-module
object); the CJK font is reportlab's built-in STSong-Light CID font (nothing to embed or download).
"""
from __future__ import annotations

import re
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

from reportlab import rl_config
from reportlab.lib.colors import HexColor
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas

from modules.codes import qr

# Compressed streams stay binary: ASCII85 on top (reportlab's default) only makes the file 25 % larger
# and, without reportlab's optional C accelerator, costs more than drawing the codes.
rl_config.useA85 = 0

CJK = "STSong-Light"
LATIN = "Helvetica"
LAYOUTS = {1: (1, 1), 2: (1, 2), 4: (2, 2), 6: (2, 3), 8: (2, 4), 12: (3, 4), 24: (4, 6)}
PAGE_MARGIN = 8 * mm

KIND_TEXT = {  # name on the plate, and what scanning it offers
    "household": ("户内码", "扫码绑定 · 家庭服务"),
    "outdoor": ("户外码", "我要点赞 · 我要上报 · 我要联系"),
    "merchant": ("商户码", "扫码评价 · 商户服务"),
    "stall": ("流动摊位码", "摊主信息 · 经营时间与地点"),
    "official": ("干部码", "扫码评价 · 服务监督"),
}


@dataclass(frozen=True)
class Item:
    token: str
    kind: str
    label: str  # address of a household, name of a merchant / official
    url: str


@lru_cache(maxsize=1)
def _fonts() -> None:
    pdfmetrics.registerFont(UnicodeCIDFont(CJK))


def layout(per_sheet: int) -> tuple[int, int]:
    if per_sheet not in LAYOUTS:
        raise ValueError(f"codes per sheet must be one of {sorted(LAYOUTS)}")
    return LAYOUTS[per_sheet]


def qr_size_on_sheet(per_sheet: int) -> float:
    """Side of the printed QR symbol (quiet zone included) in millimetres, for a sheet layout."""
    return _Cell.for_sheet(per_sheet).qr / mm


def _fit(text: str, font: str, width: float, largest: float, smallest: float) -> float:
    size = largest
    while size > smallest and pdfmetrics.stringWidth(text, font, size) > width:
        size = max(smallest, size * 0.9)
    return size


def _split(text: str, font: str, size: float, width: float) -> list[str]:
    """One or two lines (the second cut with an ellipsis) that fit ``width``."""
    if pdfmetrics.stringWidth(text, font, size) <= width:
        return [text]
    cut = len(text)
    while cut > 1 and pdfmetrics.stringWidth(text[:cut], font, size) > width:
        cut -= 1
    rest = text[cut:]
    while rest and pdfmetrics.stringWidth(rest, font, size) > width:
        rest = rest[:-2] + "…" if len(rest) > 2 else rest[:-1]
    return [text[:cut], rest] if rest else [text[:cut]]


@dataclass(frozen=True)
class _Cell:
    w: float
    h: float
    margin: float
    band: float
    sub: float
    text: float  # font size of the address / name
    qr: float  # side of the symbol, quiet zone included
    qr_x: float
    qr_y: float  # bottom of the symbol

    @classmethod
    def for_sheet(cls, per_sheet: int) -> _Cell:
        cols, rows = layout(per_sheet)
        w = (A4[0] - 2 * PAGE_MARGIN) / cols
        h = (A4[1] - 2 * PAGE_MARGIN) / rows
        margin = max(2.5 * mm, min(w, h) * 0.045)
        band = min(max(h * 0.12, 13), 40)
        sub = min(max(h * 0.045, 6), 13)
        text = min(max(h * 0.05, 6.5), 16)
        top = h - margin / 2 - band - sub * 1.9
        bottom = margin / 2 + text * 2.6 + 4
        side = min(w - 2 * margin, top - bottom)
        return cls(w, h, margin, band, sub, text, side, (w - side) / 2, bottom + (top - bottom - side) / 2)


class SheetWriter:
    """Writes codes onto A4 sheets, ``per_sheet`` a page, left to right, top to bottom."""

    def __init__(self, out, *, title: str, color: str = "#c62828", per_sheet: int = 8, author: str = ""):
        _fonts()
        self.canvas = Canvas(out, pagesize=A4, pageCompression=1, invariant=1)
        self.canvas.setTitle(title)
        self.canvas.setAuthor(author or title)
        self.canvas.setCreator("Mashang 码上")
        self.title = title
        self.color = HexColor(color)
        self.per_sheet = per_sheet
        self.cols, self.rows = layout(per_sheet)
        self.cell = _Cell.for_sheet(per_sheet)
        self.forms: set[str] = set()
        self.count = 0
        self.pages = 0

    def _form(self, kind: str) -> str:
        name = f"cell-{kind}"
        if name in self.forms:
            return name
        c, cell = self.canvas, self.cell
        c.beginForm(name, 0, 0, cell.w, cell.h)
        c.setStrokeColor(HexColor("#bbbbbb"))  # cut guide
        c.setLineWidth(0.3)
        c.setDash(2, 2)
        c.rect(0, 0, cell.w, cell.h, stroke=1, fill=0)
        c.setDash()
        inset = cell.margin / 2
        c.setStrokeColor(self.color)
        c.setLineWidth(1.2)
        c.roundRect(inset, inset, cell.w - 2 * inset, cell.h - 2 * inset, radius=cell.margin, stroke=1, fill=0)
        c.setFillColor(self.color)
        band_y = cell.h - inset - cell.band
        c.roundRect(inset, band_y, cell.w - 2 * inset, cell.band, radius=cell.margin, stroke=0, fill=1)
        c.rect(inset, band_y, cell.w - 2 * inset, cell.band / 2, stroke=0, fill=1)
        name_zh, offer = KIND_TEXT[kind]
        room = cell.w - 2 * cell.margin
        size = _fit(f"{self.title}  {name_zh}", CJK, room, cell.band * 0.55, 5)
        c.setFillColor(HexColor("#ffffff"))
        c.setFont(CJK, size)
        c.drawCentredString(cell.w / 2, band_y + (cell.band - size) / 2 + size * 0.15, f"{self.title}  {name_zh}")
        c.setFillColor(self.color)
        size = _fit(offer, CJK, room, cell.sub, 4.5)
        c.setFont(CJK, size)
        c.drawCentredString(cell.w / 2, band_y - cell.sub * 1.45, offer)
        c.endForm()
        self.forms.add(name)
        return name

    def add(self, item: Item, symbol: qr.Symbol) -> None:
        c, cell = self.canvas, self.cell
        slot = self.count % self.per_sheet
        if slot == 0 and self.count:
            c.showPage()
        col, row = slot % self.cols, slot // self.cols
        x = PAGE_MARGIN + col * cell.w
        y = A4[1] - PAGE_MARGIN - (row + 1) * cell.h
        form = self._form(item.kind)
        c.saveState()
        c.translate(x, y)
        c.doForm(form)
        # The symbol: quiet zone kept free, dark runs as one filled path in module units.
        modules = symbol.size + 2 * qr.QUIET_ZONE
        unit = cell.qr / modules
        ops = " ".join(f"{col_} {row_} {n} 1 re" for row_, col_, n in symbol.runs())
        c.addLiteral(f"q {unit:.5f} 0 0 {-unit:.5f} {cell.qr_x + qr.QUIET_ZONE * unit:.3f} "
                     f"{cell.qr_y + cell.qr - qr.QUIET_ZONE * unit:.3f} cm 0 g {ops} f Q")
        room = cell.w - 2 * cell.margin
        size = _fit(item.label, CJK, room, cell.text, max(6.0, cell.text * 0.75))
        lines = _split(item.label, CJK, size, room)
        c.setFillColor(HexColor("#111111"))
        c.setFont(CJK, size)
        top = cell.qr_y - size * 1.05
        for i, line in enumerate(lines):
            c.drawCentredString(cell.w / 2, top - i * size * 1.2, line)
        c.setFont(LATIN, 5)
        c.setFillColor(HexColor("#888888"))
        c.drawRightString(cell.w - cell.margin * 1.2, cell.margin * 0.5 + 2.5, f"No. {item.token[-6:]}")
        c.restoreState()
        self.count += 1

    def close(self) -> int:
        """Finish the PDF; returns the number of pages."""
        if self.count:
            self.canvas.showPage()
        self.pages = (self.count + self.per_sheet - 1) // self.per_sheet
        self.canvas.save()
        return self.pages


_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


def svg_name(index: int, item: Item) -> str:
    label = _UNSAFE.sub("_", item.label).strip() or item.kind
    return f"{item.kind}/{index:05d}-{label[:60]}-{item.token[-6:]}.svg"


def render(items: Iterable[Item], *, pdf_out=None, zip_out=None, title: str, color: str = "#c62828",
           per_sheet: int = 8, error: str = "M", progress: Callable[[int], None] | None = None,
           progress_every: int = 500) -> int:
    """Write ``items`` to a PDF (``pdf_out``) and a ZIP of SVGs (``zip_out``), either may be None.
    Calls ``progress(done)`` every ``progress_every`` codes. Returns the number of codes written."""
    sheet = SheetWriter(pdf_out, title=title, color=color, per_sheet=per_sheet) if pdf_out is not None else None
    archive = zipfile.ZipFile(zip_out, "w", zipfile.ZIP_DEFLATED, compresslevel=6) if zip_out is not None else None
    svg_mm = round(qr_size_on_sheet(per_sheet), 1)
    done = 0
    try:
        for item in items:
            symbol = qr.matrix(item.url, error)
            if sheet is not None:
                sheet.add(item, symbol)
            if archive is not None:
                archive.writestr(svg_name(done + 1, item), qr.svg(symbol, size_mm=svg_mm, title=item.label))
            done += 1
            if progress is not None and done % progress_every == 0:
                progress(done)
    finally:
        if archive is not None:
            archive.close()
    if sheet is not None:
        sheet.close()
    return done
