"""A report form sent back for a missing field keeps its photos: they are shown again (to that
browser only), sent with the next try, and removed once the case is filed or the form is left."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from modules.cases.models import Attachment
from tests.cases.test_pages import cases_of, jpeg, page
from tests.cases.test_pages import media as _media_in_tmp_path  # noqa: F401 - autouse: MEDIA_ROOT = tmp_path
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def _kept(html: str) -> list[str]:
    return re.findall(r'name="kept" value="([0-9a-f]{64})"', html)


def _token(html: str) -> str:
    return re.search(r'name="upload_token" value="([^"]+)"', html).group(1)


def _pending(root) -> list:
    return [p for p in root.rglob("*") if p.is_file() and p.parent.name == "pending"]


def test_a_photo_survives_a_missing_category_and_goes_with_the_next_try(world, tmp_path):
    client = client_for(world.district, world.reporter)
    token = _token(client.get("/cases/report/").content.decode())
    refused = page(client, "/cases/report/", {"upload_token": token, "title": "楼道堆物", "files": [jpeg("red")]})
    assert refused.status_code == 400
    html = refused.content.decode()
    [sha] = _kept(html)
    assert _token(html) == token and 'data-testid="kept-files"' in html
    thumb = client.get(f"/cases/report/kept/{token}/{sha}/")
    assert thumb.status_code == 200 and thumb["Content-Type"] == "image/jpeg"
    assert client_for(world.district, world.other_resident).get(f"/cases/report/kept/{token}/{sha}/").status_code == 404
    assert len(_pending(tmp_path)) == 1 and cases_of(world) == []
    # the next try: the kept photo ticked, one new photo, the category now chosen
    filed = page(client, "/cases/report/", {"upload_token": token, "kept": [sha], "category": "noise",
                                            "title": "楼道堆物", "files": [jpeg("blue")]})
    assert filed.status_code == 302, filed.content[:500]
    [case] = cases_of(world)
    with tenant_context(world.district):
        shas = set(Attachment.objects.filter(case_id=case.pk).values_list("sha256", flat=True))
    connection.set_schema_to_public()
    assert sha in shas and len(shas) == 2
    assert _pending(tmp_path) == []  # on the case now, not kept twice


def test_an_unticked_kept_photo_is_left_out_and_deleted(world, tmp_path):
    client = client_for(world.district, world.reporter)
    token = _token(client.get("/cases/report/").content.decode())
    refused = page(client, "/cases/report/", {"upload_token": token, "category": "noise", "title": " ",
                                              "files": [jpeg("red")]})
    assert refused.status_code == 400 and _kept(refused.content.decode())
    filed = page(client, "/cases/report/", {"upload_token": token, "category": "noise", "title": "噪音"})
    assert filed.status_code == 302
    [case] = cases_of(world)
    with tenant_context(world.district):
        assert not Attachment.objects.filter(case_id=case.pk).exists()
    connection.set_schema_to_public()
    assert _pending(tmp_path) == []


def test_kept_files_of_forms_never_sent_again_are_swept(world, tmp_path):
    from modules.cases import pending

    client = client_for(world.district, world.reporter)
    assert page(client, "/cases/report/", {"title": "x", "files": [jpeg("red")]}).status_code == 400
    assert len(_pending(tmp_path)) == 1
    with tenant_context(world.district):
        assert pending.sweep() == 0  # young: kept
        assert pending.sweep(now=timezone.now() + dt.timedelta(days=2)) == 1
    connection.set_schema_to_public()
    assert _pending(tmp_path) == []
