from __future__ import annotations

from tenants.models import District


def districts_for_console():
    """Every real district (not the public site, not pool spares) with its primary domain."""
    return (District.objects.exclude(schema_name="public").exclude(status=District.Status.SPARE)
            .prefetch_related("domains").order_by("slug"))


def district_by_slug(slug: str) -> District | None:
    return districts_for_console().filter(slug=slug).first()


def district_kpis(district: District) -> dict[str, float]:
    """Every KPI the district's enabled modules report, read in the district's schema."""
    from django.utils.module_loading import import_string
    from django_tenants.utils import tenant_context

    from modules.catalog import catalog

    out: dict[str, float] = {}
    with tenant_context(district):
        for spec in catalog.effective(district):
            for name, dotted in spec.kpis.items():
                out[f"{spec.key}.{name}"] = import_string(dotted)()
    return out


def module_off_impact(district: District, key: str) -> dict:
    """What turning ``key`` off would change in ``district`` (read in the current schema, the district's):
    the routes that answer 404, the menu entries that go, the periodic tasks that stop, the tables that
    stay with their rows, and the enabled modules that need it."""
    from django.apps import apps
    from django.conf import settings

    from modules.catalog import catalog

    spec = catalog[key]
    routes = []
    if spec.portal_urls:
        routes.append(f"/{key}/")
    if spec.api_urls:
        routes.append(f"/api/v1/{key}/")
    routes += [f"/{prefix}" for prefix, _dotted in spec.root_urls]
    app = next((a for a in apps.get_app_configs() if a.name in settings.MODULE_APPS and a.name.endswith(f".{key}")), None)
    tables = []
    for model in app.get_models() if app else ():
        tables.append({"name": str(model._meta.verbose_name_plural), "table": model._meta.db_table,
                       "rows": model._default_manager.count()})
    dependents = catalog.dependents(key)
    return {
        "spec": spec,
        "routes": routes,
        "nav": list(spec.nav),
        "tasks": list(spec.periodic_tasks),
        "tables": tables,
        "dependents": [s for s in catalog if s.key in dependents and s.key in district.modules],
    }
