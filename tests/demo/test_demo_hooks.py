"""Modules own their demo: the console calls each enabled module's ``ModuleSpec.demo`` hook in
dependency order and skips modules without one; every hook seeds once (a second run adds nothing)."""
import ast
import dataclasses
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils.module_loading import import_string
from django_tenants.utils import tenant_context

from console.demo import DISTRICTS, seed_district, seed_modules
from kernel.models import AuditEntry
from modules.catalog import catalog

pytestmark = pytest.mark.django_db

# What a demo hook may add on every run: the integrations' keys the sign-in sheet shows are new each
# time (a key is shown once), and the rotation is audited.
EVERY_RUN = {"cases.integration.rotate_key"}


def row_counts() -> dict[str, int]:
    """Rows of every table of the current district's schema, the audit log left out."""
    with connection.cursor() as cursor:
        cursor.execute("select table_name from information_schema.tables where table_schema = %s "
                       "and table_type = 'BASE TABLE' order by 1", [connection.schema_name])
        tables = [name for (name,) in cursor.fetchall() if name != AuditEntry._meta.db_table]
        counts = {}
        for name in tables:
            cursor.execute(f'select count(*) from "{name}"')
            counts[name] = cursor.fetchone()[0]
    return counts


def test_every_module_demo_seeds_once():
    spec = {**DISTRICTS[0], "slug": "demo-hooks", "places": "kangbashi"}  # Kangbashi: every module
    district = seed_district(spec)
    hooked = [s for s in catalog.in_dependency_order(district.modules) if s.demo]
    assert {"registry", "codes", "cases", "notices"} <= {s.key for s in hooked}
    with tenant_context(district):
        admin = get_user_model().objects.get(username="admin")
        counts = row_counts()
        for module in hooked:  # each hook seeded something of its own module
            assert sum(n for table, n in counts.items() if table.startswith(f"{module.key}_")) > 0, module.key
        for module in hooked:
            before, audited = row_counts(), AuditEntry.objects.count()
            import_string(module.demo)(district=district, admin=admin, rng_seed="kangbashi")
            assert row_counts() == before, module.key
            again = set(AuditEntry.objects.order_by("id")[audited:].values_list("action", flat=True))
            assert again <= EVERY_RUN, (module.key, again)


def _recorder(key: str, calls: list):
    def hook(*, district, admin, rng_seed):
        calls.append((key, district.slug, admin.username, rng_seed))
        return None if key == "notices" else [f"{key} signs in"]

    return hook


def test_console_calls_hooks_in_dependency_order_and_skips_modules_without_one(kangbashi, monkeypatch):
    """The catalog listed backwards: the hooks still run after the modules they depend on; ratings
    (no hook here) and ``without`` modules are skipped; a hook may return lines or nothing."""
    import tests.demo.test_demo_hooks as here

    calls: list = []
    specs = {}
    for spec in reversed(list(catalog)):
        demo = None
        if spec.key != "ratings":
            monkeypatch.setattr(here, f"hook_{spec.key}", _recorder(spec.key, calls), raising=False)
            demo = f"tests.demo.test_demo_hooks.hook_{spec.key}"
        specs[spec.key] = dataclasses.replace(spec, demo=demo)
    monkeypatch.setitem(catalog.__dict__, "specs", specs)
    assert list(catalog.keys())[-1] == "registry"

    with tenant_context(kangbashi):
        admin = get_user_model().objects.get(username="admin")
        lines = seed_modules(kangbashi, admin=admin, rng_seed="kangbashi", without=("participation",))
    called = [key for key, *_rest in calls]
    assert sorted(called) == sorted(set(kangbashi.modules) - {"ratings", "participation"})
    for key in called:
        for dep in catalog[key].depends:
            assert called.index(dep) < called.index(key), (dep, key)
    assert {(slug, user, seed) for _key, slug, user, seed in calls} == {("kangbashi", "admin", "kangbashi")}
    assert sorted(lines) == sorted(f"{key} signs in" for key in called if key != "notices")


def test_no_module_imports_the_console():
    """The console calls the modules' demo hooks; a module (its demo included) never imports the
    console back: what both need (the demo password) lives in the kernel (``kernel.demo``)."""
    root = Path(__file__).resolve().parents[2] / "modules"
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            found += [f"{path.relative_to(root)}:{node.lineno} {n}" for n in names
                      if n == "console" or n.startswith("console.")]
    assert found == []
