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


def failing_seed(*, template, actor):
    """The notices seed, then a failure (fault injection for the test below)."""
    from modules.notices.services import seed

    seed(template=template, actor=actor)
    raise RuntimeError("seed failed")


def _break_the_notices_seed(monkeypatch):
    import dataclasses

    from modules.catalog import catalog

    specs = dict(catalog.specs)
    specs["notices"] = dataclasses.replace(specs["notices"],
                                           seed="tests.platform_tests.test_provisioning.failing_seed")
    monkeypatch.setitem(catalog.__dict__, "specs", specs)


def _schemas() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace")
        return {row[0] for row in cursor.fetchall()}


@pytest.mark.parametrize("use_pool", [True, False], ids=["pool", "migrations"])
def test_a_failing_seed_leaves_nothing_behind_and_a_retry_succeeds(monkeypatch, use_pool):
    if use_pool:
        fill_pool(1)
    spares = dict(District.objects.filter(status="spare").values_list("pk", "schema_name"))
    _break_the_notices_seed(monkeypatch)
    with pytest.raises(RuntimeError, match="seed failed"):
        create_district(slug="broken", name_zh="坏区", modules=["notices"], admin=AdminSpec("a", "pw-123456789"),
                        use_pool=use_pool)
    assert not District.objects.filter(slug="broken").exists()
    assert not District.objects.filter(status="provisioning").exists()  # none stuck half made
    assert not Domain.objects.filter(domain="broken.localhost").exists()
    assert "d_broken" not in _schemas()
    now = dict(District.objects.filter(status="spare").values_list("pk", "schema_name"))
    assert now.items() >= spares.items()  # every spare back in the pool under its own name …
    assert len(now) == len(spares) + (0 if use_pool else 1)  # … and the one made by migrations joins it
    assert set(now.values()) <= _schemas()
    for schema in now.values():  # no half-seeded spare either
        with connection.cursor() as cursor:
            cursor.execute(f'SELECT count(*) FROM "{schema}".notices_notice')
            assert cursor.fetchone()[0] == 0
    monkeypatch.undo()
    created = create_district(slug="broken", name_zh="坏区", modules=["notices"],
                              admin=AdminSpec("a", "pw-123456789"), use_pool=use_pool)
    assert created.district.status == "active" and created.district.schema_name == "d_broken"
    with tenant_context(created.district):
        from modules.notices.models import Notice

        assert Notice.objects.count() == 1  # seeded once, by the retry
