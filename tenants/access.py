"""Who may do what on the public site: the one answer, checked on every page and API call.

Roles (``PlatformMembership``): **ops** (platform staff: every district, application and invoice),
**finance** (billing of every district, read of districts), **vendor** (only the applications,
districts, invoices and contacts of its own Vendor). A superuser of the public schema counts as ops.
A public user without a membership sees nothing (``is_staff`` alone is not a role: it only opens the
Django back office).

Pages use ``platform_role_required(...)``, the API ``HasPlatformRole(...)``; querysets are narrowed
with ``districts_for(user)`` / ``for_vendor_of(user, qs, field)``, so a vendor asking for another
vendor's row gets a 404, never a 403 that would confirm it exists.
"""
from __future__ import annotations

from functools import wraps

from django.db import connection
from django.db.models import QuerySet
from rest_framework.permissions import BasePermission

from tenants.models import District, PlatformMembership

OPS = PlatformMembership.Role.OPS.value
FINANCE = PlatformMembership.Role.FINANCE.value
VENDOR = PlatformMembership.Role.VENDOR.value
EVERYONE = (OPS, FINANCE, VENDOR)


def _on_public_site() -> bool:
    return connection.schema_name == "public"


def platform_roles(user) -> frozenset[str]:
    """The public-site roles of ``user`` (cached on the user object for the request)."""
    if user is None or not getattr(user, "is_authenticated", False) or not _on_public_site():
        return frozenset()
    cached = getattr(user, "_platform_roles", None)
    if cached is None:
        rows = list(PlatformMembership.objects.filter(user_id=user.pk).values_list("role", "vendor_id"))
        roles = {role for role, _ in rows} | ({OPS} if user.is_superuser else set())
        user._platform_vendor_ids = frozenset(v for role, v in rows if role == VENDOR and v)
        cached = user._platform_roles = frozenset(roles)
    return cached


def vendor_ids(user) -> frozenset[int]:
    """The vendors ``user`` works for (empty for ops and finance)."""
    platform_roles(user)
    return getattr(user, "_platform_vendor_ids", frozenset())


def has_platform_role(user, *roles: str) -> bool:
    return bool(platform_roles(user) & set(roles or EVERYONE))


def sees_everything(user) -> bool:
    """Ops and finance read every district; a vendor only its own."""
    return bool(platform_roles(user) & {OPS, FINANCE})


def for_vendor_of(user, qs: QuerySet, field: str = "vendor") -> QuerySet:
    """``qs`` narrowed to what ``user`` may see: all of it for ops/finance, the rows whose ``field``
    (a Vendor FK path) is one of the user's vendors for a vendor, nothing for anyone else."""
    if sees_everything(user):
        return qs
    ids = vendor_ids(user)
    if not ids:
        return qs.none()
    return qs.filter(**{f"{field}__in": list(ids)})


def districts_for(user) -> QuerySet:
    """The real districts (no public site, no pool spares) ``user`` may see, with their domains."""
    qs = (District.objects.exclude(schema_name="public").exclude(status=District.Status.SPARE)
          .select_related("vendor").prefetch_related("domains").order_by("slug"))
    return for_vendor_of(user, qs)


class HasPlatformRole(BasePermission):
    """DRF permission: a signed-in public-site user holding one of ``roles`` (any role when none).
    Use as ``permission_classes = [HasPlatformRole.of(OPS)]``."""

    roles: tuple[str, ...] = EVERYONE
    message = "This needs a platform role (ops, finance or vendor) on the platform site."

    @classmethod
    def of(cls, *roles: str) -> type[HasPlatformRole]:
        return type(f"HasPlatformRole_{'_'.join(roles) or 'any'}", (cls,), {"roles": roles or EVERYONE})

    def has_permission(self, request, view):
        tenant = getattr(request, "tenant", None)
        return bool(tenant is not None and tenant.is_public and has_platform_role(request.user, *self.roles))


def platform_role_required(*roles: str):
    """Page decorator: sign-in page for the anonymous, a 403 page for a user without one of ``roles``
    (any platform role when none is given)."""

    def decorate(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            from django.contrib.auth.views import redirect_to_login
            from django.core.exceptions import PermissionDenied

            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path(), "/login/")
            if not has_platform_role(request.user, *(roles or EVERYONE)):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorate
