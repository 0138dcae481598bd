"""Reads of the cases module: scoped case lists, the grab pool, routing look-ups, the holiday
calendar, and the service figures (SQL aggregates)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Aggregate, Count, F, FloatField, Func, IntegerField, Q, QuerySet, Value, When
from django.db.models import Case as DbCase
from django.utils import timezone

from kernel.cache import cached, forget
from kernel.db import AnyOf
from kernel.roles import GRID_WORKERS, Role, ScopeKind
from kernel.selectors import roles_of
from modules.cases.calendar import WorkCalendar, local_date
from modules.cases.models import (
    Case,
    CaseParticipant,
    Category,
    Holiday,
    ResponsibilityItem,
    ResponsibilityList,
    UnitKind,
)

OPEN_STATUSES = [s.value for s in Case.OPEN]
HANDLING_STATUSES = [Case.Status.ASSIGNED, Case.Status.ACCEPTED, Case.Status.IN_PROGRESS]
DEPARTMENT_ROLES = (Role.GRID_WORKER_SECTOR, Role.OFFICIAL)
COMMUNITY_ROLES = (Role.COMMUNITY_STAFF, Role.MEDIATOR, Role.COMMITTEE_MEMBER)


# --- calendar -------------------------------------------------------------------------------------

ROUTING_CACHE_SECONDS = 600
_ROUTING_KEY = "cases-routing"  # the cache's key function adds the district


@dataclass(frozen=True)
class Routing:
    """What intake needs to route and time a case: the current responsibility list with its rows by
    category, and the holiday calendar around today. Built once, kept in the district's cache and
    forgotten whenever the list or the calendar changes (``forget_routing``)."""

    rlist: ResponsibilityList | None
    items: dict  # category id -> [ResponsibilityItem]
    calendar: WorkCalendar
    first: dt.date
    last: dt.date
    categories: dict  # code -> Category (active or not)

    def covers(self, day: dt.date) -> bool:
        return self.first <= day - dt.timedelta(days=1) and day + dt.timedelta(days=366) <= self.last

    def route(self, *, category, grid=None, community=None, street=None) -> ResponsibilityItem | None:
        return _most_specific(self.items.get(category.pk, ()), grid=grid, community=community, street=street)


def routing(now: dt.datetime | None = None) -> Routing:
    day = local_date(now or timezone.now())

    def build() -> Routing:
        first, last = day - dt.timedelta(days=7), day + dt.timedelta(days=3 * 366)
        rlist = current_rlist()
        items: dict = {}
        if rlist is not None:
            for item in ResponsibilityItem.objects.filter(rlist=rlist):
                items.setdefault(item.category_id, []).append(item)
        rows = Holiday.objects.filter(date__gte=first, date__lte=last).values_list("date", "is_working_day")
        categories = {c.code: c for c in Category.objects.all()}
        return Routing(rlist, items, WorkCalendar(dict(rows)), first, last, categories)

    return cached(_ROUTING_KEY, build, seconds=ROUTING_CACHE_SECONDS, valid=lambda snapshot: snapshot.covers(day))


def forget_routing() -> None:
    """After a change of the list, the calendar or a category (kernel.cache.forget: now and at commit)."""
    forget(_ROUTING_KEY)


def work_calendar(start: dt.datetime | None = None, *, years: int = 2) -> WorkCalendar:
    """The district's holiday calendar from ``start`` (default today) for ``years`` years."""
    first = local_date(start or timezone.now()) - dt.timedelta(days=1)
    rows = Holiday.objects.filter(date__gte=first, date__lte=first + dt.timedelta(days=366 * years))
    return WorkCalendar({d: w for d, w in rows.values_list("date", "is_working_day")})


# --- routing --------------------------------------------------------------------------------------

def current_rlist() -> ResponsibilityList | None:
    return ResponsibilityList.objects.filter(is_current=True).first()


def category_order(days: int = 90) -> list[str]:
    """Category codes, the most reported in the last ``days`` first (the report page shows those
    first). Counted once per district every 10 minutes."""
    def build() -> list[str]:
        since = timezone.now() - dt.timedelta(days=days)
        counts = (Case.objects.filter(submitted_at__gte=since).values_list("category__code")
                  .annotate(n=Count("id")).order_by("-n", "category__code"))
        return [code for code, _n in counts]

    return cached("cases-category-order", build, seconds=600)


AREA_ORDER = ("district", "street", "community", "grid")


def rlist_items(rlist: ResponsibilityList) -> QuerySet:
    """A list's rows as people read them: by category, the district-wide default first, then the
    street, community and grid rows that override it."""
    rank = DbCase(*(When(area_kind=kind, then=Value(i)) for i, kind in enumerate(AREA_ORDER)),
                  default=Value(len(AREA_ORDER)), output_field=IntegerField())
    return (rlist.items.select_related("category").annotate(area_rank=rank)
            .order_by("category__code", "area_rank", "area_code"))


def route(*, category, grid=None, community=None, street=None, rlist=None) -> ResponsibilityItem | None:
    """The most specific row of the list for the category and place: grid > community > street > district."""
    if rlist is None:
        return None
    return _most_specific(ResponsibilityItem.objects.filter(rlist=rlist, category=category), grid=grid,
                          community=community, street=street)


def _most_specific(items, *, grid=None, community=None, street=None) -> ResponsibilityItem | None:
    if grid is not None and community is None:
        community = grid.community
    if community is not None:
        street = community.street
    areas = [("district", "")]
    if street is not None:
        areas.append(("street", street.code))
    if community is not None:
        areas.append(("community", community.code))
    if grid is not None:
        areas.append(("grid", grid.code))
    rank = {area: i for i, area in enumerate(areas)}
    return max((item for item in items if (item.area_kind, item.area_code) in rank),
               key=lambda item: rank[(item.area_kind, item.area_code)], default=None)


# --- who sees what --------------------------------------------------------------------------------

def _scope_codes(user) -> dict[str, set]:
    """The places and departments a user holds staff roles in."""
    out = {"district": False, "grid_worker_grids": set(), "grids": set(), "communities": set(), "streets": set(),
           "departments": set()}
    for a in roles_of(user):
        if a.role == Role.DISTRICT_ADMIN:
            out["district"] = True
        elif a.role in GRID_WORKERS and a.scope_kind == ScopeKind.GRID:
            out["grid_worker_grids"].add(a.scope_code)
            out["grids"].add(a.scope_code)
        elif a.role in DEPARTMENT_ROLES and a.scope_kind == ScopeKind.DEPARTMENT:
            out["departments"].add(a.scope_code)
        elif a.role in COMMUNITY_ROLES:
            if a.scope_kind == ScopeKind.DISTRICT:
                out["district"] = True
            elif a.scope_kind == ScopeKind.COMMUNITY:
                out["communities"].add(a.scope_code)
            elif a.scope_kind == ScopeKind.STREET:
                out["streets"].add(a.scope_code)
    return out


def visibility(user) -> Q | None:
    """A condition on Case for what ``user`` may see; None means everything.

    Every branch is a condition on the case's own columns (the grids, communities and cases the user
    takes part in are looked up first, ``kernel.db.AnyOf``), so PostgreSQL answers the OR with index
    scans: a resident's own cases are read by ``reporter_id``, not found by scanning every case of the
    district joined to its participants."""
    from modules.registry.models import Community, Grid

    if not getattr(user, "is_authenticated", False):
        return Q(pk__in=[])
    scopes = _scope_codes(user)
    if scopes["district"]:
        return None
    cond = Q(reporter=user) | Q(assignee=user) | Q(
        AnyOf("pk", CaseParticipant.objects.filter(user=user).values("case_id")))
    if scopes["grids"]:
        cond |= Q(AnyOf("grid_id", Grid.objects.filter(code__in=scopes["grids"]).values("pk")))
        cond |= Q(responsible_kind=UnitKind.GRID_WORKERS, responsible_code__in=scopes["grids"])
    if scopes["communities"]:
        cond |= Q(AnyOf("community_id", Community.objects.filter(code__in=scopes["communities"]).values("pk")))
        cond |= Q(responsible_kind=UnitKind.COMMUNITY, responsible_code__in=scopes["communities"])
    if scopes["streets"]:
        cond |= Q(AnyOf("community_id", Community.objects.filter(street__code__in=scopes["streets"]).values("pk")))
    if scopes["departments"]:
        cond |= Q(responsible_kind=UnitKind.DEPARTMENT, responsible_code__in=scopes["departments"])
        cond |= Q(AnyOf("pk", CaseParticipant.objects.filter(
            department_code__in=scopes["departments"]).values("case_id")))
    return cond


def cases_for(user) -> QuerySet:
    """The cases ``user`` may see (no join: each case once)."""
    qs = Case.objects.select_related("category", "grid", "community", "assignee", "reporter")
    cond = visibility(user)
    return qs if cond is None else qs.filter(cond)


def can_see(user, case: Case) -> bool:
    cond = visibility(user)
    return cond is None or Case.objects.filter(cond, pk=case.pk).exists()


def grab_grids_of(user) -> set[str]:
    return _scope_codes(user)["grid_worker_grids"]


def pool_condition(grids: set[str]) -> Q:
    """Pool cases a grid worker of ``grids`` may grab: their grids', or their communities' posts."""
    from modules.registry.models import Grid

    communities = set(Grid.objects.filter(code__in=grids).values_list("community__code", flat=True))
    return Q(responsible_kind=UnitKind.GRID_WORKERS, responsible_code__in=grids) | Q(
        responsible_kind=UnitKind.COMMUNITY, responsible_code__in=communities)


def pool_for(user) -> QuerySet:
    grids = grab_grids_of(user)
    base = Case.objects.filter(status=Case.Status.SUBMITTED, assignee__isnull=True, assign_mode="grab")
    if not grids:
        return base.none()
    return base.filter(pool_condition(grids)).select_related("category", "grid").order_by("submitted_at", "id")


def open_case_count(user) -> int:
    return Case.objects.filter(assignee=user, status__in=HANDLING_STATUSES).count()


def timeline(case: Case) -> QuerySet:
    return case.events.select_related("actor").order_by("at", "id")


# --- duplicates -----------------------------------------------------------------------------------

NEAR_DEGREES = 0.002  # about 200 m in latitude, a little less in longitude at Ordos' latitude


def _bigrams(text: str) -> set[str]:
    text = "".join((text or "").split())
    return {text[i:i + 2] for i in range(len(text) - 1)} or ({text} if text else set())


def text_similarity(a: str, b: str) -> float:
    """Jaccard similarity of character bigrams (works for Chinese without a tokenizer)."""
    x, y = _bigrams(a), _bigrams(b)
    return len(x & y) / len(x | y) if x and y else 0.0


def duplicate_candidates(case: Case, *, days: int = 3, limit: int = 10) -> list[tuple[Case, float]]:
    """Root cases that may be the same problem as ``case``, whatever their channel: same category,
    same household / compound or a nearby position (the grid when nothing finer is known), received
    within ``days``; best first by text similarity, then by closeness in time."""
    place = Q(pk__in=[])
    if case.household_id:
        place |= Q(household_id=case.household_id)
    if case.compound_id:
        place |= Q(compound_id=case.compound_id)
    if case.latitude is not None and case.longitude is not None:
        lat, lng, near = Decimal(case.latitude), Decimal(case.longitude), Decimal(str(NEAR_DEGREES))
        place |= Q(latitude__range=(lat - near, lat + near), longitude__range=(lng - near, lng + near))
    if not (case.household_id or case.compound_id or case.latitude is not None) and case.grid_id:
        place |= Q(grid_id=case.grid_id)
    window = dt.timedelta(days=days)
    rows = list(
        Case.objects.filter(place, category_id=case.category_id, parent__isnull=True,
                            submitted_at__range=(case.submitted_at - window, case.submitted_at + window))
        .exclude(pk=case.pk).exclude(status=Case.Status.REJECTED)[:200])
    text = f"{case.title} {case.description}"
    scored = [(other, round(text_similarity(text, f"{other.title} {other.description}"), 3)) for other in rows]
    scored.sort(key=lambda pair: (-pair[1], abs((pair[0].submitted_at - case.submitted_at).total_seconds())))
    return scored[:limit]


# --- figures --------------------------------------------------------------------------------------

class Median(Aggregate):
    function = "percentile_cont"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()
    allow_distinct = False


class Seconds(Func):
    template = "EXTRACT(EPOCH FROM (%(expressions)s))"
    output_field = FloatField()


def _figures(qs: QuerySet, group: str, now) -> list[dict]:
    rows = (
        qs.values(group)
        .annotate(
            total=Count("id"),
            replied=Count("id", filter=Q(responded_at__isnull=False)),
            answerable=Count("id", filter=~Q(status=Case.Status.REJECTED)),
            resolved=Count("id", filter=Q(resolved_at__isnull=False)),
            overdue=Count("id", filter=Q(status__in=OPEN_STATUSES, resolution_due__lt=now)),
            workload=Count("id", filter=Q(status__in=OPEN_STATUSES)),
            median_response_seconds=Median(Seconds(F("responded_at") - F("submitted_at"))),
            median_resolution_seconds=Median(Seconds(F("resolved_at") - F("submitted_at"))),
        )
        .order_by(group)
    )
    out = []
    for row in rows:
        key = row.pop(group)
        total, answerable = row["total"], row["answerable"]
        out.append({"key": key, **row,
                    "reply_rate": round(row["replied"] / total, 4) if total else None,
                    "resolution_rate": round(row["resolved"] / answerable, 4) if answerable else None})
    return out


def figures(*, by: str, cases: QuerySet | None = None, now=None) -> list[dict]:
    """Reply rate, resolution rate, median seconds to respond / resolve, overdue count and workload
    per ``by``: "grid" (grid code), "worker" (assignee username) or "department" (department code)."""
    now = now or timezone.now()
    qs = Case.objects.all() if cases is None else cases
    if by == "grid":
        return _figures(qs.filter(grid__isnull=False), "grid__code", now)
    if by == "worker":
        return _figures(qs.filter(assignee__isnull=False), "assignee__username", now)
    if by == "department":
        return _figures(qs.filter(responsible_kind=UnitKind.DEPARTMENT), "responsible_code", now)
    raise ValueError("by must be grid, worker or department")


def open_case_kpi() -> int:
    return Case.objects.filter(status__in=OPEN_STATUSES).count()


def overdue_case_kpi() -> int:
    return Case.objects.filter(status__in=OPEN_STATUSES, resolution_due__lt=timezone.now()).count()
