"""Creating a district: one service call; the pool path yields exactly the schema migrations yield."""
import pytest
from django.core.management import call_command
from django.db import connection
from django_tenants.utils import tenant_context

from kernel.errors import DomainError
from kernel.models import AuditEntry, RoleAssignment
from tenants.models import District, Domain
from tenants.services import AdminSpec, ModuleDependencyError, create_district, fill_pool, pool_size

pytestmark = pytest.mark.django_db


def schema_shape(schema: str) -> dict:
    """Tables, columns, constraints (with names) and indexes of a schema, with the schema name removed."""
    with connection.cursor() as cur:
        cur.execute("""SELECT table_name, column_name, data_type, is_nullable, coalesce(column_default, '')
                       FROM information_schema.columns WHERE table_schema = %s ORDER BY 1, 2""", [schema])
        columns = [tuple(str(v).replace(schema, "S") for v in row) for row in cur.fetchall()]
        cur.execute("""SELECT c.conrelid::regclass::text, c.conname, c.contype, pg_get_constraintdef(c.oid)
                       FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
                       WHERE n.nspname = %s ORDER BY 2""", [schema])
        constraints = [tuple(str(v).replace(schema, "S") for v in row) for row in cur.fetchall()]
        cur.execute("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s ORDER BY 1", [schema])
        indexes = [tuple(str(v).replace(schema, "S") for v in row) for row in cur.fetchall()]
        cur.execute("SELECT app, name FROM " + connection.ops.quote_name(schema) + ".django_migrations ORDER BY 1, 2")
        migrations = cur.fetchall()
    return {"columns": columns, "constraints": constraints, "indexes": indexes, "migrations": migrations}


def test_pool_path_yields_exactly_the_migrated_schema():
    fill_pool(1)
    assert pool_size() >= 1
    pooled = create_district(slug="pooled", name_zh="池区", modules=["notices"], admin=AdminSpec("admin", "pw-123456789"))
    migrated = create_district(slug="migrated", name_zh="迁区", modules=["notices"],
                               admin=AdminSpec("admin", "pw-123456789"), use_pool=False)
    assert pooled.from_pool and not migrated.from_pool
    assert pooled.district.schema_name == "d_pooled"
    connection.set_schema_to_public()
    a, b = schema_shape("d_pooled"), schema_shape("d_migrated")
    assert a["constraints"] and a["indexes"] and a["migrations"]
    assert a == b


def test_a_new_district_is_live_with_domain_admin_and_seed():
    created = create_district(slug="newcity", name_zh="新城区", name_en="New City", modules=["cases", "notices"],
                              admin=AdminSpec("boss", "pw-123456789", phone="13500001234"))
    d = created.district
    assert d.status == "active" and d.modules == ["registry", "codes", "cases", "notices"]
    assert Domain.objects.get(tenant=d).domain == "newcity.localhost"
    with tenant_context(d):
        assert RoleAssignment.objects.get(role="district_admin").user.username == "boss"
        assert created.admin.check_password("pw-123456789")
        assert AuditEntry.objects.filter(action="district.seed").exists()
        from modules.notices.models import Notice

        assert Notice.objects.count() == 1  # the notices module seeded its welcome notice
    connection.set_schema_to_public()
    assert AuditEntry.objects.filter(action="district.create", target_id=str(d.pk)).exists()


def test_bad_requests_create_nothing(kangbashi):
    before = District.objects.count()
    with pytest.raises(DomainError) as dup:
        create_district(slug="kangbashi", name_zh="重复")
    assert dup.value.status == 409 and "slug" in dup.value.fields
    with pytest.raises(DomainError) as bad:
        create_district(slug="Bad Slug!", name_zh="坏")
    assert bad.value.status == 400 and "slug" in bad.value.fields
    with pytest.raises(DomainError) as taken:
        create_district(slug="other", name_zh="别", domain="kangbashi.localhost")
    assert "domain" in taken.value.fields
    with pytest.raises(DomainError, match="nope"):
        create_district(slug="other", name_zh="别", modules=["nope"])
    assert District.objects.count() == before


def test_missing_dependency_is_explained(monkeypatch):
    from modules.catalog import catalog
    from modules.spec import ModuleSpec

    specs = dict(catalog.specs)
    specs["extra"] = ModuleSpec(key="extra", name_zh="附加", name_en="Extra", depends=("points",))
    monkeypatch.setitem(catalog.__dict__, "specs", specs)
    with pytest.raises(ModuleDependencyError, match="points"):
        create_district(slug="deps", name_zh="依赖", modules=["extra"])


def test_management_command(capsys):
    call_command("create_district", "cmdcity", "--name-zh", "命令区", "--modules", "notices",
                 "--admin-password", "pw-123456789")
    out = capsys.readouterr().out
    assert "cmdcity.localhost" in out
    assert District.objects.get(slug="cmdcity").status == "active"


def test_a_stale_spare_is_brought_up_to_date_before_use():
    from tenants.services import missing_migrations

    fill_pool(1)
    spare = District.objects.filter(status="spare").order_by("created_at").first()
    with connection.cursor() as cursor:  # as if the spare predates the newest notices migration
        cursor.execute(f'DELETE FROM "{spare.schema_name}".django_migrations WHERE app = %s', ["notices"])
        cursor.execute(f'DROP TABLE "{spare.schema_name}".notices_notice')
    assert missing_migrations(spare.schema_name)
    created = create_district(slug="stale", name_zh="旧池区", modules=["notices"], admin=AdminSpec("a", "pw-123456789"))
    assert created.from_pool and "catch_up" in created.timings
    assert not missing_migrations(created.district.schema_name)
    with tenant_context(created.district):
        from modules.notices.models import Notice

        assert Notice.objects.count() == 1  # the table is back and seeded
