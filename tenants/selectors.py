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
