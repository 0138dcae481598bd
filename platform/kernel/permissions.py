"""The permission layer every module uses: roles, and scopes within the district.

    permission_classes = [HasRole(Role.DISTRICT_ADMIN, Role.COMMUNITY_STAFF)]
    qs = in_scope(user, qs, roles=STAFF_ROLES, fields={"community": "community_code", "grid": "grid_code"})
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

from django.db.models import Q, QuerySet
from rest_framework.permissions import BasePermission

from kernel.roles import Role, ScopeKind
from kernel.selectors import roles_of

# The place hierarchy is owned by the registry module; it registers how a scope contains another.
# contains(outer_kind, outer_code, inner_kind, inner_code) -> bool
_containment: list[Callable[[str, str, str, str], bool]] = []


def register_containment(fn: Callable[[str, str, str, str], bool]) -> None:
    _containment.append(fn)


def scope_covers(kind: str, code: str, target_kind: str, target_code: str) -> bool:
    if kind == ScopeKind.DISTRICT:
        return True
    if kind == target_kind and code == target_code:
        return True
    return any(fn(kind, code, target_kind, target_code) for fn in _containment)


def has_role(user, *roles: str) -> bool:
    wanted = set(roles)
    return any(a.role in wanted for a in roles_of(user))


def has_role_for(user, roles: Iterable[str], target_kind: str, target_code: str) -> bool:
    """True if the user holds one of ``roles`` in a scope that covers the target place."""
    wanted = set(roles)
    return any(
        a.role in wanted and scope_covers(a.scope_kind, a.scope_code, target_kind, target_code)
        for a in roles_of(user)
    )


def in_scope(user, qs: QuerySet, *, roles: Iterable[str], fields: dict[str, str]) -> QuerySet:
    """Filter ``qs`` to rows inside the user's scopes for the given roles.

    ``fields`` maps a scope kind to the lookup holding that kind's code on the row
    (e.g. {"community": "community__code", "grid": "grid__code"}). A district-wide
    assignment sees everything; no matching assignment sees nothing."""
    wanted = set(roles)
    condition = Q(pk__in=[])
    for a in roles_of(user):
        if a.role not in wanted:
            continue
        if a.scope_kind == ScopeKind.DISTRICT:
            return qs
        lookup = fields.get(a.scope_kind)
        if lookup:
            condition |= Q(**{lookup: a.scope_code})
    return qs.filter(condition)


def role_required(*roles: str):
    """Page-view decorator: sign in first, then hold one of ``roles`` (anywhere in the district)."""
    from functools import wraps

    from django.contrib.auth.decorators import login_required
    from django.core.exceptions import PermissionDenied

    def decorate(view):
        @login_required
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not has_role(request.user, *roles):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


def HasRole(*roles: str) -> type[BasePermission]:  # noqa: N802 - reads like a class in permission_classes
    """DRF permission: the user must hold one of ``roles`` (anywhere in the district)."""

    class _HasRole(BasePermission):
        @property
        def message(self):  # evaluated per request, in the caller's language
            from django.utils.translation import gettext

            return gettext("You need one of these roles: %(roles)s.") % {
                "roles": ", ".join(str(Role(r).label) for r in roles)}

        def has_permission(self, request, view):
            return bool(request.user and request.user.is_authenticated and has_role(request.user, *roles))

    _HasRole.__name__ = "HasRole_" + "_".join(roles)
    return _HasRole


def acting_user(actor):
    """The signed-in user behind ``actor``, or None (anonymous, or the system: a seed, a sweep)."""
    return actor if getattr(actor, "is_authenticated", False) and getattr(actor, "pk", None) else None


def require_admin(actor, message: str | None = None) -> None:
    """Refuse (403) anyone but a district administrator; ``message`` says what only they may do."""
    if acting_user(actor) is None or not has_role(actor, Role.DISTRICT_ADMIN):
        from django.utils.translation import gettext

        from kernel.errors import NotAllowed

        raise NotAllowed(message or gettext("Only district administrators may do this."))
