"""What every write of the cases module shares: the status groups, the actor, the clock, the
module's configuration, locking a case, its timeline entry and its domain event."""
from __future__ import annotations

from collections.abc import Iterable

from django.utils import timezone
from django.utils.translation import gettext as _

from kernel import events
from kernel.errors import Conflict, DomainError
from kernel.models import RoleAssignment
from kernel.permissions import acting_user as _user
from kernel.permissions import has_role
from kernel.roles import GRID_WORKERS, Role, ScopeKind
from kernel.selectors import module_config
from modules.cases.models import (
    Case,
    CaseEvent,
    Category,
    OwnerLevel,
    UnitKind,
)

S = Case.Status
OPEN = (S.SUBMITTED, S.ASSIGNED, S.ACCEPTED, S.IN_PROGRESS)
INTEGRATION_CHANNELS = (Case.Channel.HOTLINE, Case.Channel.MAILBOX, Case.Channel.OPEN311)
VERIFIABLE_CHANNELS = (Case.Channel.SNAP, Case.Channel.OUTDOOR_REPORT, Case.Channel.OUTDOOR_PRAISE)
HOUSEHOLD_CHANNELS = (Case.Channel.OUTDOOR_REPORT, Case.Channel.OUTDOOR_PRAISE)
OWNER_LEVEL_OF_UNIT = {UnitKind.GRID_WORKERS: OwnerLevel.GRID_WORKER, UnitKind.COMMUNITY: OwnerLevel.COMMUNITY,
                       UnitKind.STREET: OwnerLevel.STREET,
                       UnitKind.DEPARTMENT: OwnerLevel.DEPARTMENT, UnitKind.DISTRICT: OwnerLevel.DISTRICT}
BAD_RATING_MAX = 2


# --- helpers ----------------------------------------------------------------------------------------

def _now(now):
    return now or timezone.now()


def _config() -> dict:
    return module_config("cases")


def _require_status(case: Case, allowed: Iterable[str], action: str) -> None:
    allowed = [str(s) for s in allowed]
    if case.status not in allowed:
        raise Conflict(
            _("Cannot %(action)s a case that is %(status)s; only a case that is %(allowed)s.")
            % {"action": action, "status": case.status, "allowed": " or ".join(allowed)},
            code="wrong_status")


def _lock(case: Case) -> Case:
    return Case.objects.select_for_update().get(pk=case.pk)


def _event(case: Case, *, kind: str, actor, at, from_status: str = "", to_status: str = "", note: str = "",
           data: dict | None = None) -> CaseEvent:
    return CaseEvent.objects.create(case=case, at=at, actor=_user(actor), kind=kind, from_status=from_status,
                                    to_status=to_status or from_status, note=note[:2000], data=data or {})


def _status_event(topic: str, case: Case, **extra) -> None:
    """A step every listener may care about (integration webhooks, notifications)."""
    events.publish(topic, {"case_id": case.pk, "ref": case.ref, "status": case.status, **extra})


def _is_admin(user) -> bool:
    return bool(user) and has_role(user, Role.DISTRICT_ADMIN)


def grid_worker_of(grid_code: str, *, grid=None):
    """The grid's owner (Grid.worker), else a full-time, then part-time grid worker assigned to it.
    ``grid``: the case's grid when already loaded (saves a read when the code is its own)."""
    from modules.registry.models import Grid

    if grid is None or grid.code != grid_code:
        grid = Grid.objects.filter(code=grid_code).select_related("worker").first()
    if grid is not None and grid.worker_id:
        return grid.worker
    order = {r: i for i, r in enumerate(GRID_WORKERS)}
    rows = RoleAssignment.objects.filter(role__in=GRID_WORKERS, scope_kind=ScopeKind.GRID,
                                         scope_code=grid_code).select_related("user")
    rows = sorted(rows, key=lambda a: (order[a.role], a.pk))
    return rows[0].user if rows else None


def _category(category, routing=None) -> Category:
    if isinstance(category, Category):
        obj = category
    elif routing is not None:  # intake: the categories come with the cached routing snapshot
        obj = routing.categories.get(category) if isinstance(category, str) else None
    else:
        obj = Category.objects.filter(code=category).first()
    if obj is None or not obj.active:
        raise DomainError(_("Choose one of the district's case categories."),
                          fields={"category": [_("Unknown or inactive category.")]})
    return obj
