"""A print run through a real Celery worker: committed data in the "worker" district, the run created
through the API (202), progress until done, then a PDF with one code per cell (pages counted and codes
read back by PDFium + zxing-cpp) and a ZIP with one SVG per code."""
from __future__ import annotations

import io
import math
import secrets
import zipfile

import pypdfium2
import pytest
import zxingcpp
from django.db import connection
from django_tenants.utils import tenant_context

from tests.codes.conftest import build_place, destroy_place
from tests.conftest import client_for, wait_for


@pytest.mark.worker
def test_a_print_run_through_a_real_worker(celery_worker, django_db_blocker):
    from modules.registry import services as reg
    from modules.registry.models import Building
    from tenants.models import District

    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        district = District.objects.get(slug="worker")
        place = build_place(district, prefix="W" + secrets.token_hex(3).upper())
        try:
            with tenant_context(district):
                building = Building.objects.get(compound=place.compound, number="3")
                for room in range(401, 421):  # 23 households in all: 46 household + outdoor codes
                    reg.create_household(actor=place.admin, building=building, unit="1", room=str(room))
            connection.set_schema_to_public()
            staff = client_for(district, place.staff)
            made = staff.post("/api/v1/codes/print-runs/", {
                "scope_kind": "community", "scope_code": place.community.code, "kinds": ["household", "outdoor"],
                "codes_per_sheet": 12}, format="json")
            assert made.status_code == 202, made.content
            run_url = f"/api/v1/codes/print-runs/{made.json()['id']}/"

            def finished():
                body = staff.get(run_url).json()
                return body if body["status"] in ("done", "failed") else None

            run = wait_for(finished, timeout=90)
            assert run, f"the worker did not finish the print run: {staff.get(run_url).json()}"
            assert run["status"] == "done", run["error"]
            assert run["total"] == run["done"] == 46 and run["percent"] == 100

            pdf = staff.get(f"{run_url}pdf/")
            assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
            document = pypdfium2.PdfDocument(b"".join(pdf.streaming_content))
            assert len(document) == math.ceil(46 / 12)
            first = {r.text for r in zxingcpp.read_barcodes(document[0].render(scale=300 / 72, grayscale=True)
                                                            .to_pil())}
            assert len(first) == 12
            assert all(text.startswith("https://worker.localhost/c/") for text in first)

            archive = staff.get(f"{run_url}zip/")
            assert archive.status_code == 200
            with zipfile.ZipFile(io.BytesIO(b"".join(archive.streaming_content))) as z:
                names = z.namelist()
                assert len(names) == 46 and all(n.endswith(".svg") for n in names)
                assert sum(n.startswith("household/") for n in names) == 23
                svgs = [z.read(n).decode() for n in names]
            with tenant_context(district):
                from modules.codes.models import Code

                tokens = set(Code.objects.filter(household__building__compound=place.compound, status="active")
                             .values_list("token", flat=True))
            assert len(tokens) == 46
            assert {t for t in tokens if any(t in s for s in svgs)} == tokens
            assert first <= {f"https://worker.localhost/c/{t}" for t in tokens}
        finally:
            destroy_place(place)
            connection.set_schema_to_public()
