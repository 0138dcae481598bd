"""Print run of 30,000 household codes: codes per second (goal at least 500/s).

Run: ``.venv/bin/python bench/code_print.py`` (``BENCH_CODES``, default 30000; ``BENCH_PER_SHEET``,
default 8).

In a throwaway district (``bench-<random>``, made by replaying migrations so its schema has every
current migration, dropped at the end with its media folder), one community with ``BENCH_CODES``
households (bulk-inserted: the data is the set-up, not the subject), then:

1. ``services.issue_missing_codes`` issues their household codes (one bulk transaction);
2. the PDF alone: ``printing.render`` of every code onto A4 sheets, to memory;
3. the whole print run as the Celery task does it (``print_runs.produce``): codes read from the
   database, PDF sheets and the ZIP of SVGs written, both stored under the district's media prefix,
   progress saved on the run. The run is made by ``services.create_print_run``; its queueing to
   Celery is switched off here, so the developer's worker does not take it too.

The PDF is checked: one page per ``BENCH_PER_SHEET`` codes (PDFium, if installed), and every code of
its first page is read back (zxing-cpp, if installed). Figures are JSON lines on stdout, logs on stderr.
"""
from __future__ import annotations

import io
import math
import os
import sys
import time

from _support import bench_slug, drop_district, figure, log, quiet_stdout, setup_django, size


def build_community(n: int):
    """Street → community → grid → compound → buildings of 100 households, bulk-inserted."""
    from modules.registry.models import Building, Community, Compound, Grid, Household, Street

    street = Street.objects.create(code="BS1", name="基准街道")
    community = Community.objects.create(code="BC1", name="基准社区", street=street)
    grid = Grid.objects.create(code="BG1", name="基准网格", community=community)
    compound = Compound.objects.create(code="BP1", name="基准小区", community=community, grid=grid)
    buildings = Building.objects.bulk_create(
        [Building(compound=compound, number=str(i + 1), grid=grid) for i in range(math.ceil(n / 100))])
    rows = [Household(building=buildings[i // 100], unit=str((i % 100) // 20 + 1), room=f"{(i % 20) // 2 + 1}0{i % 2 + 1}",
                      grid=grid) for i in range(n)]
    Household.objects.bulk_create(rows, batch_size=5000)
    return community


def check_pdf(data: bytes, expected_pages: int, first_page: int, domain: str) -> None:
    try:
        import pypdfium2
    except ImportError:
        log("  (pypdfium2 not installed: pages not counted)")
        return
    document = pypdfium2.PdfDocument(data)
    if len(document) != expected_pages:
        raise SystemExit(f"the PDF has {len(document)} pages, expected {expected_pages}")
    try:
        import zxingcpp
    except ImportError:
        log("  (zxing-cpp not installed: codes not read back)")
        return
    found = [r.text for r in zxingcpp.read_barcodes(document[0].render(scale=300 / 72, grayscale=True).to_pil())]
    if len(found) != first_page or not all(t.startswith(f"https://{domain}/c/") for t in found):
        raise SystemExit(f"page 1 read back as {found}")
    log(f"  PDF checked: {len(document)} pages; page 1 reads back {len(found)} codes of https://{domain}/c/…")


def main() -> int:
    n = size(30000, 40, env="BENCH_CODES")
    per_sheet = int(os.environ.get("BENCH_PER_SHEET", "8"))
    setup_django()
    from django.db import connection
    from django_tenants.utils import tenant_context

    from kernel import jobs
    from modules.codes import print_runs, printing, selectors, services
    from modules.codes.models import Code
    from modules.registry.models import Household
    from tenants.services import create_district

    slug = bench_slug()
    try:
        log(f"district {slug}: migrating a fresh schema …")
        with quiet_stdout():
            district = create_district(slug=slug, name_zh="基准区", name_en="Bench", modules=["registry", "codes"],
                                       use_pool=False).district
        with tenant_context(district):
            started = time.perf_counter()
            community = build_community(n)
            log(f"  {n} households in {time.perf_counter() - started:.1f}s (bulk insert, set-up)")

            started = time.perf_counter()
            issued = services.issue_missing_codes(actor=None, households=Household.objects.all())
            seconds = time.perf_counter() - started
            assert issued == 2 * n, issued  # household + outdoor code each
            figure("code_issue_codes_per_second", round(issued / seconds), "codes/s")

            domain = selectors.district_domain(district)
            codes = list(selectors.codes_in_scope("community", community.code, ["household"]))
            items = [printing.Item(c.token, c.kind, c.label, selectors.url_of(c, domain)) for c in codes]
            assert len(items) == n
            started = time.perf_counter()
            out = io.BytesIO()
            printing.render(items, pdf_out=out, title=district.portal_title("zh-hans"),
                            color=district.primary_color, per_sheet=per_sheet)
            seconds = time.perf_counter() - started
            figure("code_print_pdf_codes_per_second", round(n / seconds), "codes/s", ">= 500 codes/s")
            figure("code_print_pdf_megabytes", round(len(out.getvalue()) / 1e6, 1), "MB")
            log(f"  PDF alone: {n} codes, {math.ceil(n / per_sheet)} sheets in {seconds:.1f}s")
            check_pdf(out.getvalue(), math.ceil(n / per_sheet), min(per_sheet, n), domain)

            # the bench makes the run itself, not the developer's worker: the kick is not sent
            jobs.queue = lambda task_name, job_id: None
            run = services.create_print_run(actor=None, scope_kind="community", scope_code=community.code,
                                            kinds=["household"], codes_per_sheet=per_sheet)
            started = time.perf_counter()
            done = print_runs.produce(run)
            seconds = time.perf_counter() - started
            if done is None or done.total != n or done.status != "done":
                raise SystemExit(f"the print run did not finish: {done and done.status}")
            figure("code_print_run_codes_per_second", round(n / seconds), "codes/s", ">= 500 codes/s")
            figure("code_print_run_seconds", round(seconds, 1), "s")
            figure("code_print_zip_megabytes", round(done.zip.size / 1e6, 1), "MB")
            log(f"  print run (DB → PDF + ZIP of SVGs → storage): {seconds:.1f}s; "
                f"PDF {done.pdf.size / 1e6:.1f} MB, ZIP {done.zip.size / 1e6:.1f} MB; "
                f"{Code.objects.count()} codes in the district")
        connection.set_schema_to_public()
    finally:
        connection.set_schema_to_public()
        drop_district(slug=slug)
    return 0


if __name__ == "__main__":
    sys.exit(main())
