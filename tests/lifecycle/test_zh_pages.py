"""The lifecycle pages in zh-Hans have no English left in what they show (the page's own part, <main>),
and every message they look up is translated."""
from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from tests.i18n.test_zh_hans_pages import CatalogueMisses, english_words

pytestmark = pytest.mark.django_db


def _main(html: str) -> str:
    return html[html.index("<main>"):html.index("</main>")]


def test_the_lifecycle_pages_are_in_chinese(kangbashi, settings, tmp_path):
    from accounts.services import create_user
    from tenants.lifecycle.models import DistrictExport
    from tenants.lifecycle.services import archive_district
    from tenants.models import District
    from tenants.services import grant_platform_role

    settings.DISTRICT_EXPORT_ROOT = tmp_path
    for district, name in zip(District.objects.exclude(schema_name="public").order_by("pk"),
                              ("康巴什区", "东胜区", "莱西市", "工作区", "备用一", "备用二", "备用三"), strict=False):
        District.objects.filter(pk=district.pk).update(name_zh=name)
    connection.set_schema_to_public()
    with transaction.atomic():
        user = create_user(actor=None, username="lc-zh-ops", password="pw-123456789")
    grant_platform_role(actor=None, user=user, role="ops")
    archive_district(actor=user, district=District.objects.get(slug="dongsheng"), reason="到期", retention_days=30)
    now = timezone.now()
    DistrictExport.objects.create(district=District.objects.get(slug="dongsheng"), slug="dongsheng",
                                  schema_name="d_dongsheng", reason="移交", status="done", step="done",
                                  started_at=now, finished_at=now, dump_path="dongsheng/1/x.dump", dump_sha256="ab" * 32,
                                  dump_size=1234, workbook_path="dongsheng/1/x.xlsx", workbook_sha256="cd" * 32,
                                  workbook_size=99)
    DistrictExport.objects.create(district=District.objects.get(slug="kangbashi"), slug="kangbashi",
                                  schema_name="d_kangbashi", reason="备份", status="running", step="dump",
                                  started_at=now)
    client = Client(HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="zh-Hans")
    client.force_login(user)
    problems = {}
    with CatalogueMisses() as misses:
        for url in ("/console/lifecycle/", "/console/lifecycle/dongsheng/", "/console/lifecycle/kangbashi/",
                    "/console/lifecycle/laixi/"):
            response = client.get(url)
            assert response.status_code == 200, url
            words = english_words(_main(response.content.decode()))
            if words:
                problems[url] = words
    assert not problems, problems
    from console.context import NAV

    others = {label for _href, label, _who in NAV}  # the console's menu: its owners translate it
    assert not misses.missed - others, sorted(misses.missed - others)
