from __future__ import annotations

from tenants.models import District


def districts_for_console():
    """Every real district (not the public site, not pool spares) with its primary domain."""
    return (District.objects.exclude(schema_name="public").exclude(status=District.Status.SPARE)
            .prefetch_related("domains").order_by("slug"))


def district_by_slug(slug: str) -> District | None:
    return districts_for_console().filter(slug=slug).first()
