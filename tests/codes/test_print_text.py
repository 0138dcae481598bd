"""Print-run PDFs carry their CJK text: the font is a TrueType subset embedded in the file (found at
run time, kernel/fonts.py), so poppler's pdftotext and PDFium read back exactly the district's title
("多多评·码上生活", whose "·" came out as U+FFFD with the non-embedded STSong-Light) and every label;
a bad CJK_FONT is a clear error, never a PDF with missing glyphs."""
from __future__ import annotations

import io
import os
import re
import shutil
import subprocess

import pypdfium2
import pytest
from django.test import override_settings

from kernel import fonts
from modules.codes import print_runs, printing, qr

PDFTOTEXT = shutil.which("pdftotext")
needs_pdftotext = pytest.mark.skipif(PDFTOTEXT is None and not os.environ.get("CI"),
                                     reason="poppler-utils (pdftotext) is not installed (CI installs it)")
TITLE = "多多评·码上生活"
LABELS = ("康巴什区青春山街道3栋1单元401", "王家小区12号楼2单元1101", "老刘烧烤（流动摊位）", "张**（街道办主任）")


def pdf_text(data: bytes) -> str:
    """The text poppler extracts (what the defect was seen in), one line a line of the PDF."""
    return subprocess.run([PDFTOTEXT or "pdftotext", "-layout", "-enc", "UTF-8", "-", "-"], input=data,
                          capture_output=True, check=True, timeout=60).stdout.decode()


def pdfium_text(data: bytes) -> str:
    document = pypdfium2.PdfDocument(data)
    return "\n".join(page.get_textpage().get_text_range() for page in document)


def lines(text: str) -> set[str]:
    """Each cell's text on a line of its own (-layout puts cells side by side, split on wide gaps)."""
    out = set()
    for line in text.splitlines():
        out.update(part.strip() for part in line.split("   ") if part.strip())
    return out


def render(items, **kw) -> bytes:
    out = io.BytesIO()
    printing.render(items, pdf_out=out, title=TITLE, **kw)
    return out.getvalue()


def items() -> list[printing.Item]:
    kinds = ("household", "household", "stall", "official")
    return [printing.Item(f"tok{i:018d}", kind, label, qr.scan_url("kangbashi.localhost", f"tok{i}"))
            for i, (kind, label) in enumerate(zip(kinds, LABELS, strict=True))]


@needs_pdftotext
@pytest.mark.parametrize("per_sheet", [1, 4, 24])
def test_the_title_and_every_label_come_back_exactly(per_sheet):
    data = render(items(), per_sheet=per_sheet)
    for text in (pdf_text(data), pdfium_text(data)):
        assert "\ufffd" not in text
        found = lines(text)
        assert f"{TITLE} 户内码" in " ".join(text.split()), text
        assert set(LABELS) <= found, (set(LABELS) - found, text)
        assert "扫码绑定 · 家庭服务" in found or "扫码绑定 · 家庭服务" in " ".join(text.split())


def test_the_cjk_font_is_embedded_as_a_subset():
    data = render(items(), per_sheet=4)
    # An embedded TrueType font is a FontFile2; a subset's name is six capitals and "+" before the name.
    assert b"/FontFile2" in data and re.search(rb"/BaseFont /[A-Z]{6}\+", data)
    assert b"STSong-Light" not in data


def test_a_bad_cjk_font_setting_is_a_clear_error(tmp_path, monkeypatch):
    not_a_font = tmp_path / "font.ttf"
    not_a_font.write_bytes(b"not a font")
    monkeypatch.setattr(fonts, "_registered", None)  # as in a fresh process
    with override_settings(CJK_FONT=str(not_a_font)), pytest.raises(fonts.CJKFontMissing) as err:
        render(items())
    assert str(not_a_font) in str(err.value) and "CJK_FONT" in str(err.value)
    with override_settings(CJK_FONT=str(tmp_path / "missing.ttc#1")), pytest.raises(fonts.CJKFontMissing):
        render(items())


def test_no_font_anywhere_says_what_to_install(monkeypatch):
    monkeypatch.setattr(fonts, "_registered", None)
    monkeypatch.setattr(fonts, "KNOWN", ())
    monkeypatch.setenv("PATH", "/nonexistent")  # no fc-list either
    with override_settings(CJK_FONT=""), pytest.raises(fonts.CJKFontMissing) as err:
        fonts.cjk_font()
    assert "apt-get install fonts-wqy-microhei" in str(err.value) and "CJK_FONT" in str(err.value)


# --- a print run: the district's title, its households' labels and the URL a phone can open ---------

LAN = "http://192.168.1.20:8000"


def set_base_url(value: str, actor=None) -> None:
    from kernel.services import update_module_config
    from modules.codes.selectors import config

    update_module_config(actor=actor, module_key="codes", data={**config(), "base_url": value})


@needs_pdftotext
@pytest.mark.django_db
def test_a_print_run_reads_back_its_title_labels_and_chosen_url(place, codes, settings, tmp_path):
    """The task's work in process (test_print.py runs it on a real worker): with the codes' base URL
    set (the demo sets the machine's LAN address and port), every QR on the sheet opens it."""
    import zxingcpp

    from kernel.selectors import forget_module_config
    from modules.codes import services
    from modules.codes.models import Code
    from tests.codes.conftest import delete_run_files

    settings.MEDIA_ROOT = tmp_path
    with place:
        try:
            set_base_url(LAN, place.admin)
            run = services.create_print_run(actor=place.staff, scope_kind="community",
                                            scope_code=place.community.code, kinds=["household"], codes_per_sheet=4)
            done = print_runs.produce(run)
            data = done.pdf.open("rb").read()
            labels = {c.label for c in Code.objects.filter(kind="household", status="active",
                                                           household__building__compound=place.compound)}
            title = place.district.portal_title("zh-hans")
            delete_run_files(done)
        finally:
            forget_module_config("codes")  # the cache outlives the test's transaction
    text = pdf_text(data)
    assert "\ufffd" not in text and labels and labels <= lines(text), (labels, text)
    assert f"{title} 户内码" in " ".join(text.split())
    page = pypdfium2.PdfDocument(data)[0].render(scale=300 / 72, grayscale=True).to_pil()
    urls = {r.text for r in zxingcpp.read_barcodes(page)}
    assert urls and all(u.startswith(f"{LAN}/c/") for u in urls), urls


@pytest.mark.django_db
def test_the_demo_opens_a_district_to_phones_on_the_network(place, codes, settings, monkeypatch):
    """seed_demo's LAN step: the district answers at the machine's address, its codes (API, screen,
    print) point at http://<address>:<port>, and that URL opens the code's page on that host."""
    from django.db import connection
    from rest_framework.test import APIClient

    from console.demo_lan import allow_lan_host, open_to_lan
    from kernel.selectors import forget_module_config
    from modules.codes import selectors
    from tenants.models import Domain
    from tests.conftest import client_for

    token = codes["h1"].token
    try:
        Domain.objects.create(domain="10.9.9.9", tenant=place.district, is_primary=False)  # an earlier network
        assert open_to_lan(place.district, host="192.168.1.20", port=8000) == LAN
        connection.set_schema_to_public()
        assert not Domain.objects.filter(domain="10.9.9.9").exists()
        assert Domain.objects.get(domain="192.168.1.20").tenant_id == place.district.pk
        with place:
            assert selectors.url_of(codes["h1"]) == f"{LAN}/c/{token}"
        one = client_for(place.district, place.admin).get(f"/api/v1/codes/codes/{codes['h1'].pk}/").json()
        assert one["url"] == f"{LAN}/c/{token}"

        monkeypatch.setenv("DEMO_LAN_HOST", "192.168.1.20")  # as run_platform adds it to the demo server's hosts
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS]
        assert allow_lan_host(settings.ALLOWED_HOSTS) == "192.168.1.20" in settings.ALLOWED_HOSTS
        phone = APIClient(HTTP_HOST="192.168.1.20:8000", HTTP_ACCEPT_LANGUAGE="zh-hans")
        page = phone.get(f"/c/{token}")
        assert page.status_code in (200, 302), page.status_code
        if page.status_code == 302:
            page = phone.get(page["Location"])
        assert page.status_code == 200 and place.district.portal_title("zh-hans") in page.content.decode()
    finally:
        with place:
            forget_module_config("codes")
