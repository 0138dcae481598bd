"""Who sees which figures (reads for the pages and the API of ratings.reports), and the lists an
official's or a merchant's own page shows.

- staff (``STAFF_ROLES``): rankings, trends and any subject's score;
- an official: their own (the ``registry.Official`` linked to their account);
- a department head: the officials of the departments they head. A head is a user who holds the
  ``official`` or ``district_admin`` role scoped to the department and is not one of its rated
  officials (the registry has no head flag: an official of the department holds the same role);
  a district-wide administrator heads every department;
- a merchant: the merchants they own.

Raters are never shown: the lists below carry no rater field."""
from __future__ import annotations

from django.db.models import Q

from kernel.permissions import has_role
from kernel.roles import STAFF_ROLES, Role, ScopeKind
from kernel.selectors import roles_of
from modules.ratings.ledger.models import Rating


def is_staff(user) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and has_role(user, *STAFF_ROLES)


def official_of(user):
    from modules.registry.models import Official

    if not getattr(user, "is_authenticated", False):
        return None
    return Official.objects.select_related("department").filter(user=user).first()


def merchants_of(user):
    from modules.registry.models import Merchant

    if not getattr(user, "is_authenticated", False):
        return Merchant.objects.none()
    return Merchant.objects.filter(owner=user).order_by("name")


def headed_departments(user):
    """The departments ``user`` heads (a queryset; all of them for a district-wide administrator)."""
    from modules.registry.models import Department

    if not getattr(user, "is_authenticated", False):
        return Department.objects.none()
    codes = set()
    for a in roles_of(user):
        if a.role == Role.DISTRICT_ADMIN and a.scope_kind == ScopeKind.DISTRICT:
            # every department that has people to rate (the responsibility list names many that don't)
            return Department.objects.filter(officials__active=True).distinct().order_by("name")
        if a.role in (Role.OFFICIAL, Role.DISTRICT_ADMIN) and a.scope_kind == ScopeKind.DEPARTMENT:
            codes.add(a.scope_code)
    own = official_of(user)
    if own is not None:
        codes.discard(own.department.code)  # one of its rated officials, not its head
    return Department.objects.filter(code__in=codes).order_by("name")


def may_see_official(user, official) -> bool:
    if is_staff(user):
        return True
    own = official_of(user)
    if own is not None and own.pk == official.pk:
        return True
    return headed_departments(user).filter(pk=official.department_id).exists()


def may_see_merchant(user, merchant) -> bool:
    return is_staff(user) or (merchant.owner_id is not None and merchant.owner_id == getattr(user, "pk", None))


def ratings_of(*, official=None, merchant=None, since=None, until=None, limit: int = 50):
    """The subject's ratings of the period, newest first, with their follow-up, appeals and reply
    (for the subject's own page; nothing about the rater)."""
    q = Q(official=official) if official is not None else Q(merchant=merchant)
    qs = Rating.objects.filter(q)
    if since is not None:
        qs = qs.filter(created_at__gte=since, created_at__lt=until)
    return list(qs.select_related("follow_up", "reply").prefetch_related("appeals").order_by("-created_at", "-id")[:limit])


def follow_ups_of(*, official=None, merchant=None, limit: int = 50):
    from modules.ratings.followup.models import FollowUp

    q = Q(rating__official=official) if official is not None else Q(rating__merchant=merchant)
    return list(FollowUp.objects.filter(q).select_related("rating").order_by("status", "-opened_at")[:limit])


def appeals_of(*, official=None, merchant=None, limit: int = 50):
    from modules.ratings.followup.models import Appeal

    q = Q(rating__official=official) if official is not None else Q(rating__merchant=merchant)
    return list(Appeal.objects.filter(q).select_related("rating").order_by("-created_at")[:limit])
