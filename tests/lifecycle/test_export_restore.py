"""The end of a district's life, on committed data (pg_dump and pg_restore are other processes): a
seeded district is archived, exported and restored under another slug, where the same rows are found;
the workbook is readable with masked phones; deletion is refused without an export and before the
retention, then drops the schema and keeps a tombstone and the audit trail. Everything made here is
removed at the end."""
from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import openpyxl
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_exists, tenant_context

from kernel.errors import Conflict
from kernel.models import AuditEntry
from tenants.lifecycle import exports as lifecycle_exports
from tenants.lifecycle import services
from tenants.lifecycle.models import DistrictArchive, DistrictExport, DistrictRestore, DistrictTombstone
from tenants.lifecycle.pg import table_counts
from tenants.models import District, Domain
from tests.conftest import wait_for

SOURCE, COPY, NEWER = "lc-source", "lc-copy", "lc-newer"
PHONE = "13912345678"
ID_NUMBER = "11010519491231002X"
ALL_MODULES = ["registry", "codes", "cases", "points", "ratings", "participation", "notices"]


def _cleanup():
    connection.set_schema_to_public()
    for slug in (SOURCE, COPY, NEWER):
        schema = "d_" + slug.replace("-", "_")
        with connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        shutil.rmtree(Path(settings.MEDIA_ROOT) / schema, ignore_errors=True)
        shutil.rmtree(Path(settings.DISTRICT_EXPORT_ROOT) / slug, ignore_errors=True)
    DistrictTombstone.objects.filter(slug__in=[SOURCE, COPY, NEWER]).delete()
    DistrictRestore.objects.filter(slug__in=[SOURCE, COPY, NEWER]).delete()
    DistrictExport.objects.filter(slug__in=[SOURCE, COPY, NEWER]).delete()
    DistrictArchive.objects.filter(slug__in=[SOURCE, COPY, NEWER]).delete()
    Domain.objects.filter(tenant__slug__in=[SOURCE, COPY, NEWER]).delete()
    District.objects.filter(slug__in=[SOURCE, COPY, NEWER]).delete()


def _rows(schema: str, table: str, limit: int = 5) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT * FROM "{schema}"."{table}" ORDER BY 1 LIMIT %s', [limit])  # noqa: S608
        return cursor.fetchall()


def _seed(district):
    """The modules' own demo hooks (console.demo.seed_modules) and one resident with known numbers."""
    from accounts.services import create_user
    from console.demo import DISTRICTS, seed_people
    from modules.registry.services import register_resident

    with tenant_context(district):
        admin = get_user_model().objects.get(username="admin")
        seed_people(district, {**DISTRICTS[0], "slug": SOURCE, "places": "kangbashi"})
        register_resident(actor=admin, name="导出测试", id_number=ID_NUMBER, phone=PHONE)
        create_user(actor=admin, username="lc-phone", phone=PHONE.replace("139", "138"))


@pytest.fixture
def ops(django_db_blocker):
    """A platform-staff user, committed; everything the test makes is removed after it."""
    with django_db_blocker.unblock():
        assert connection.settings_dict["NAME"].startswith("test_"), "refusing to write a non-test database"
        _cleanup()
        user = get_user_model().objects.create_user(username="lc-ops")
        try:
            yield user
        finally:
            _cleanup()
            AuditEntry.objects.filter(actor=user).update(actor=None)
            with connection.cursor() as cursor:  # the public user (a cascade would look for tenant-only tables)
                cursor.execute("DELETE FROM accounts_user WHERE id = %s", [user.pk])


def test_export_restore_delete(ops, celery_worker):
    from tenants.services import AdminSpec, create_district

    created = create_district(slug=SOURCE, name_zh="导出区", name_en="Export", modules=ALL_MODULES,
                              admin=AdminSpec("admin", "pw-123456789"), use_pool=False,
                              seed_template="kangbashi")
    source = created.district
    _seed(source)
    src_schema = source.schema_name

    # --- archive; deletion refused before the retention and without an export
    record = services.archive_district(actor=ops, district=source, reason="合同到期", retention_days=30)
    source.refresh_from_db()
    assert source.status == "archived" and record.retention_days == 30
    assert record.delete_not_before - record.archived_at == dt.timedelta(days=30)
    with pytest.raises(Conflict, match="retention"):
        services.delete_district(actor=ops, district=source, reason="到期删除")
    DistrictArchive.objects.filter(pk=record.pk).update(delete_not_before=timezone.now() - dt.timedelta(days=1))
    with pytest.raises(Conflict, match="export"):
        services.delete_district(actor=ops, district=source, reason="到期删除")
    assert schema_exists(src_schema)

    # --- export: a job a real Celery worker runs (kicked by name on commit); asked for twice, one export
    export = services.request_export(actor=ops, district=source, reason="移交客户")
    assert services.request_export(actor=ops, district=source, reason="again").pk == export.pk
    assert wait_for(lambda: DistrictExport.objects.get(pk=export.pk).status in ("done", "failed"), timeout=180)
    export = DistrictExport.objects.get(pk=export.pk)
    assert export.status == "done", export.error
    assert DistrictExport.objects.filter(slug=SOURCE).count() == 1
    late = lifecycle_exports.produce(export)  # a late duplicate delivery changes nothing (None: the lock was held)
    assert late is None or (late.status == "done" and late.dump_sha256 == export.dump_sha256)
    assert export.step == "done" and export.finished_at
    for kind in ("dump", "media", "workbook"):
        path = lifecycle_exports.file_path(export, kind)
        assert path.exists() and Path(settings.DISTRICT_EXPORT_ROOT).resolve() in path.parents
        assert Path(settings.MEDIA_ROOT).resolve() not in path.parents
        assert lifecycle_exports.digest(path) == (getattr(export, f"{kind}_sha256"), getattr(export, f"{kind}_size"))
    with connection.cursor() as cursor:
        live = table_counts(cursor, src_schema)
    assert export.row_counts == live
    seeded = {t: n for t, n in live.items() if n}
    for table in ("registry_resident", "cases_case", "points_entry", "accounts_user", "notices_notice"):
        assert seeded.get(table), (table, seeded)

    # --- the workbook: the sheets, zh headers, phones and ID numbers masked
    book = openpyxl.load_workbook(lifecycle_exports.file_path(export, "workbook"), read_only=True)
    assert book.sheetnames == ["用户", "居民", "案件", "积分流水", "积分余额", "评价"]
    cells = {name: [row for row in book[name].iter_rows(values_only=True)] for name in book.sheetnames}
    book.close()
    assert cells["居民"][0][5] == "手机号（已脱敏）"
    assert len(cells["居民"]) - 1 == live["registry_resident"]
    assert len(cells["案件"]) - 1 == live["cases_case"]
    assert len(cells["积分流水"]) - 1 == live["points_entry"]
    assert len(cells["用户"]) - 1 == live["accounts_user"]
    text = "\n".join(str(v) for rows in cells.values() for row in rows for v in row if v is not None)
    assert PHONE not in text and ID_NUMBER not in text and PHONE.replace("139", "138") not in text
    ours = next(row for row in cells["居民"] if row[1] == "导出测试")
    assert ours[5] == "139****5678" and ours[4] == "110105********002X"
    assert re.search(r"138\*{4}5678", text)

    # --- restore under another slug: the same rows, and the copy serves its domain
    copy = services.restore_export(actor=ops, export=export, slug=COPY, reason="恢复演练")
    assert copy.schema_name == "d_lc_copy" and copy.status == "active" and copy.live_at is None
    assert copy.modules == source.modules and copy.primary_domain == "lc-copy.localhost"
    with connection.cursor() as cursor:
        assert table_counts(cursor, copy.schema_name) == export.row_counts
    for table in ("registry_resident", "cases_case", "points_entry", "accounts_user", "kernel_auditentry"):
        assert _rows(copy.schema_name, table) == _rows(src_schema, table), table
    from tenants.services import missing_migrations

    assert not missing_migrations(copy.schema_name)
    assert schema_exists(src_schema)  # the original is untouched
    with tenant_context(copy):
        from modules.registry.models import Resident

        assert Resident.objects.get(name="导出测试").phone == "+86" + PHONE  # decrypts: same keys
    page = Client(HTTP_HOST="lc-copy.localhost").get("/")
    assert page.status_code == 200 and "导出区" in page.content.decode()  # the copy serves its domain
    connection.set_schema_to_public()
    with tenant_context(copy):  # its people came along
        assert get_user_model().objects.get(username="admin").check_password("pw-123456789")
    restore = DistrictRestore.objects.get(district=copy)
    assert restore.export_id == export.pk and restore.slug == COPY
    assert AuditEntry.objects.filter(action="lifecycle.restore", target_id=str(copy.pk)).exists()

    # --- a dump made by newer code (a migration this code does not know) is refused, leaving nothing
    with connection.cursor() as cursor:
        cursor.execute(f'INSERT INTO "{src_schema}".django_migrations (app, name, applied) '
                       "VALUES ('notices', '9999_from_the_future', now())")
    newer = services.request_export(actor=ops, district=source, reason="再导出")
    assert wait_for(lambda: DistrictExport.objects.get(pk=newer.pk).status in ("done", "failed"), timeout=180)
    newer = DistrictExport.objects.get(pk=newer.pk)
    assert newer.status == "done", newer.error
    with pytest.raises(Conflict, match="9999_from_the_future"):
        services.restore_export(actor=ops, export=newer, slug=NEWER, reason="恢复")
    assert not schema_exists("d_lc_newer") and not District.objects.filter(slug=NEWER).exists()
    assert not (Path(settings.MEDIA_ROOT) / "d_lc_newer").exists()

    # --- deletion: refused for a district in service; then the source goes, the tombstone stays
    with pytest.raises(Conflict, match="archived|已归档"):
        services.delete_district(actor=ops, district=copy, reason="不")
    tombstone = services.delete_district(actor=ops, district=source, reason="保留期满，已移交导出")
    assert not schema_exists(src_schema)
    assert not District.objects.filter(slug=SOURCE).exists()
    assert not Domain.objects.filter(domain="lc-source.localhost").exists()
    assert tombstone.slug == SOURCE and tombstone.domains == ["lc-source.localhost"]
    assert tombstone.export_id == newer.pk and tombstone.schema_name == src_schema  # the newest export
    assert DistrictArchive.objects.get(pk=record.pk).deleted_at is not None
    export.refresh_from_db()
    assert export.district_id is None and export.slug == SOURCE  # the export record and files are kept
    actions = set(AuditEntry.objects.filter(target_id__in=[str(source.pk), str(export.pk)])
                  .values_list("action", flat=True))
    assert {"district.status", "lifecycle.archive", "lifecycle.export.request", "lifecycle.export.done",
            "lifecycle.delete"} <= actions
    assert Client(HTTP_HOST="lc-source.localhost").get("/").status_code == 404
    connection.set_schema_to_public()
