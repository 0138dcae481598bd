"""Printed codes decode: the symbols are segno's, and renderings of them at small print sizes (15 mm
at 300 dpi; the size used on the PDF sheets) are read back by a real QR decoder (zxing-cpp) as
exactly https://<district-domain>/c/<token>. The PDF is rendered by a real PDF engine (PDFium)."""
from __future__ import annotations

import io
import re
import secrets

import pypdfium2
import pytest
import segno
import zxingcpp
from PIL import Image, ImageDraw, ImageFilter

from modules.codes import printing, qr

DOMAINS = ("kangbashi.localhost", "duoduoping.kangbashi.ordos.gov.cn")
QR = zxingcpp.BarcodeFormat.QRCode


def urls(domain: str, n: int) -> list[str]:
    return [qr.scan_url(domain, secrets.token_urlsafe(16)) for _ in range(n)]


def decode(image: Image.Image) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(image) if r.format == QR]


def raster(runs, modules: int, size_mm: float, dpi: int, blur: float = 0.0) -> Image.Image:
    """Draw dark runs (row, column, length; quiet zone included in ``modules``) the way a printer's
    RIP does: each edge snapped to the nearest device pixel."""
    px = round(size_mm / 25.4 * dpi)
    unit = px / modules
    image = Image.new("L", (px, px), 255)
    draw = ImageDraw.Draw(image)
    for r, c, n in runs:
        x0, x1 = round(c * unit), round((c + n) * unit) - 1
        y0, y1 = round(r * unit), round((r + 1) * unit) - 1
        draw.rectangle([x0, y0, x1, y1], fill=0)
    if blur:
        image = image.filter(ImageFilter.GaussianBlur(blur))
    return _on_paper(image)


def _on_paper(image: Image.Image) -> Image.Image:
    paper = Image.new("L", (image.width + 60, image.height + 60), 255)
    paper.paste(image, (30, 30))
    return paper


def test_the_fast_symbol_is_segnos_symbol():
    for domain in DOMAINS:
        for error in ("M", "Q"):
            for text in urls(domain, 150):
                symbol = qr.matrix(text, error)
                reference = segno.make_qr(text, error=error, boost_error=False)
                assert symbol.mask == reference.mask and symbol.version == reference.version
                assert symbol.rows == tuple("".join(str(b) for b in row) for row in reference.matrix)


@pytest.mark.parametrize("domain", DOMAINS)
@pytest.mark.parametrize("error", ["M", "Q"])
@pytest.mark.parametrize("size_mm,dpi,blur", [(15, 300, 0), (15, 300, 1.2), (20, 200, 0)])
def test_small_prints_decode_exactly(domain, error, size_mm, dpi, blur):
    for text in urls(domain, 25):
        symbol = qr.matrix(text, error)
        runs = [(r + qr.QUIET_ZONE, c + qr.QUIET_ZONE, n) for r, c, n in symbol.runs()]
        image = raster(runs, symbol.size + 2 * qr.QUIET_ZONE, size_mm, dpi, blur)
        assert decode(image) == [text], (text, symbol.version)


SVG_RUN = re.compile(r"M(\d+) (\d+)h(\d+)v1h-\d+z")


@pytest.mark.parametrize("domain", DOMAINS)
def test_the_svg_files_decode_at_15_mm(domain):
    for text in urls(domain, 20):
        document = qr.svg(qr.matrix(text, "M"), size_mm=15, title="3号楼2单元301室")
        assert 'width="15mm"' in document and "<desc>" + text in document
        modules = int(re.search(r'viewBox="0 0 (\d+) \d+"', document).group(1))
        path = re.search(r' d="([^"]*)"', document).group(1)
        runs = [(int(y), int(x), int(n)) for x, y, n in SVG_RUN.findall(path)]
        assert "".join(f"M{c} {r}h{n}v1h-{n}z" for r, c, n in runs) == path
        assert min(c for _, c, _ in runs) >= qr.QUIET_ZONE  # the quiet zone is kept free
        assert decode(raster(runs, modules, 15, 300)) == [text]


def sheet(items, per_sheet: int, error: str = "M") -> bytes:
    out = io.BytesIO()
    printing.render(items, pdf_out=out, title="多多评·码上生活", color="#c62828", per_sheet=per_sheet, error=error)
    return out.getvalue()


def items(domain: str, n: int, kind: str = "household") -> list[printing.Item]:
    out = []
    for i, text in enumerate(urls(domain, n)):
        token = text.rsplit("/", 1)[1]
        out.append(printing.Item(token, kind, f"康和小区{i % 9 + 1}号楼{i % 4 + 1}单元{i:03d}室", text))
    return out


@pytest.mark.parametrize("per_sheet", [8, 24])
@pytest.mark.parametrize("domain", DOMAINS)
def test_every_code_on_a_pdf_sheet_decodes_at_300_dpi(per_sheet, domain):
    """Rendered by PDFium at print resolution: every code of the page read back, exactly."""
    batch = items(domain, per_sheet + 3)  # a full sheet and a part of a second
    pdf = pypdfium2.PdfDocument(sheet(batch, per_sheet))
    assert len(pdf) == 2
    found = []
    for page in pdf:
        found += decode(page.render(scale=300 / 72, grayscale=True).to_pil())
    assert sorted(found) == sorted(i.url for i in batch)
    side = printing.qr_size_on_sheet(per_sheet)
    assert 15 <= side <= 60, side  # the size these prints really have, quiet zone included


def test_a_sheet_of_24_still_decodes_at_150_dpi():
    batch = items(DOMAINS[1], 24, kind="outdoor")
    page = pypdfium2.PdfDocument(sheet(batch, 24, error="Q"))[0]
    found = decode(page.render(scale=150 / 72, grayscale=True).to_pil())
    assert sorted(found) == sorted(i.url for i in batch)


def test_labels_and_branding_are_on_the_sheet():
    batch = items(DOMAINS[0], 2) + items(DOMAINS[0], 1, kind="stall")
    data = sheet(batch, 4)
    pdf = pypdfium2.PdfDocument(data)
    text = pdf[0].get_textpage().get_text_range()
    assert "多多评·码上生活" in text and "户内码" in text and "流动摊位码" in text
    assert batch[0].label in text and f"No. {batch[0].token[-6:]}" in text
    assert b"/FontFile2" in data and b"STSong-Light" not in data  # an embedded TrueType subset (test_print_text)
    red = pdf[0].render(scale=1).to_pil().convert("RGB")
    assert (198, 40, 40) in {red.getpixel((x, 40)) for x in range(red.width)}  # the branded band, #c62828
