"""Reads of follow-ups: the follow-ups and appeals a user may see, the callback rate (the scheme wants
every real-name bad rating called back: 100%), overdue follow-ups, the rater's phone for the call."""
from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone

from kernel.permissions import acting_user, has_role
from kernel.roles import Role
from modules.ratings.followup.models import Appeal, FollowUp
from modules.ratings.followup.services import UNIT_SCOPES, may_follow_up, subject_user_id
from modules.ratings.ledger.models import LIVE_STATES, Rating

RELATED = ("rating__official__department", "rating__merchant", "rating__grid", "rating__rater")


def _all() -> QuerySet:
    return FollowUp.objects.select_related(*RELATED)


def units_of(user) -> list[tuple[str, str]] | None:
    """The (unit_kind, unit_code) pairs of follow-ups ``user`` may call back; None: all of them."""
    user = acting_user(user)
    if user is None:
        return []
    if has_role(user, Role.DISTRICT_ADMIN):
        return None
    pairs = FollowUp.objects.filter(unit_kind__in=list(UNIT_SCOPES)).values_list("unit_kind", "unit_code")
    pairs = pairs.order_by().distinct()
    probe = FollowUp(unit_kind="", unit_code="")
    found = []
    for kind, code in pairs:
        probe.unit_kind, probe.unit_code = kind, code
        probe.rating = Rating(subject_kind="unit")  # the subject check is per row (see follow_ups_for)
        if may_follow_up(user, probe):
            found.append((kind, code))
    return found


def _unit_filter(units: list[tuple[str, str]] | None) -> Q:
    if units is None:
        return Q()
    condition = Q(pk__in=[])
    for kind, code in units:
        condition |= Q(unit_kind=kind, unit_code=code)
    return condition


def follow_ups_for(user, *, status: str | None = None) -> QuerySet:
    """What ``user`` may call back: their units' follow-ups, open ones first (the earliest deadline
    first), never the ratings of themselves."""
    qs = _all().filter(_unit_filter(units_of(user)))
    user = acting_user(user)
    if user is not None and not has_role(user, Role.DISTRICT_ADMIN):
        qs = qs.exclude(rating__official__user=user).exclude(rating__merchant__owner=user)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by(Case(When(status=FollowUp.Status.OPEN, then=Value(0)), default=Value(1),
                            output_field=IntegerField()), "due_at", "opened_at", "id")


def follow_up_for(user, pk: int) -> FollowUp | None:
    follow_up = _all().filter(pk=pk).first()
    return follow_up if follow_up is not None and may_follow_up(user, follow_up) else None


def is_overdue(follow_up: FollowUp, now=None) -> bool:
    return (follow_up.status == FollowUp.Status.OPEN and follow_up.due_at is not None
            and follow_up.due_at < (now or timezone.now()))


def overdue(qs: QuerySet | None = None, now=None) -> QuerySet:
    """Follow-ups past their deadline and not called back."""
    qs = qs if qs is not None else _all()
    return qs.filter(status=FollowUp.Status.OPEN, due_at__lt=now or timezone.now())


@dataclass
class Rate:
    total: int = 0
    called: int = 0
    overdue: int = 0

    @property
    def percent(self) -> float | None:
        return round(100.0 * self.called / self.total, 1) if self.total else None

    @property
    def complete(self) -> bool:
        return self.called == self.total


@dataclass
class CallbackRate:
    overall: Rate
    units: list[tuple[str, str, str, Rate]] = field(default_factory=list)  # (unit_kind, unit_code, unit name, rate)


def callback_rate(*, units: list[tuple[str, str]] | None = None, now=None) -> CallbackRate:
    """Bad real-name ratings (that count or wait for review) with a recorded callback / all of them,
    overall and per unit, and how many are overdue. ``units``: only these (None: the district)."""
    now = now or timezone.now()
    qs = FollowUp.objects.filter(_unit_filter(units), rating__real_name=True, rating__state__in=LIVE_STATES)
    counts = dict(
        total=Count("id"), called=Count("id", filter=Q(status=FollowUp.Status.DONE)),
        overdue=Count("id", filter=Q(status=FollowUp.Status.OPEN, due_at__lt=now)))
    overall = Rate(**qs.aggregate(**counts))
    rows = qs.values("unit_kind", "unit_code").annotate(**counts).order_by("unit_kind", "unit_code")
    names = unit_names((r["unit_kind"], r["unit_code"]) for r in rows)
    return CallbackRate(overall, [(r["unit_kind"], r["unit_code"], names.get((r["unit_kind"], r["unit_code"]), r["unit_code"]),
                                   Rate(r["total"], r["called"], r["overdue"])) for r in rows])


def unit_names(units) -> dict[tuple[str, str], str]:
    """{(unit kind, code): the unit's name} of departments, grids, communities and streets (a code with no
    row keeps no name: the caller shows the code)."""
    from modules.registry.models import Community, Department, Grid, Street

    models = {"department": Department, "grid": Grid, "community": Community, "street": Street}
    wanted: dict[str, set] = {}
    for kind, code in units:
        if kind in models and code:
            wanted.setdefault(kind, set()).add(code)
    return {(kind, code): name for kind, codes in wanted.items()
            for code, name in models[kind].objects.filter(code__in=codes).values_list("code", "name")}


def rater_phone(follow_up: FollowUp) -> str:
    """The rater's phone in E.164 ("" when unknown): their account's, else their registered resident's."""
    from kernel.personal import decrypt

    rater = follow_up.rating.rater
    if rater is None:
        return ""
    if rater.phone_encrypted:
        return decrypt(rater.phone_encrypted)
    from modules.registry.models import Resident

    encrypted = Resident.objects.filter(user=rater).values_list("phone_encrypted", flat=True).first()
    return decrypt(encrypted) if encrypted else ""


# --- appeals ----------------------------------------------------------------------------------------

def appeals_for(user, *, status: str | None = None) -> QuerySet:
    """Reviewers see every appeal; the rated person sees their own."""
    user = acting_user(user)
    qs = Appeal.objects.select_related("rating__official", "rating__merchant", "by", "decided_by")
    if user is None:
        return qs.none()
    if not has_role(user, Role.DISTRICT_ADMIN):
        qs = qs.filter(by=user)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by(Case(When(status=Appeal.Status.PENDING, then=Value(0)), default=Value(1),
                            output_field=IntegerField()), "-created_at", "-id")


def appealable(user, rating: Rating) -> bool:
    user = acting_user(user)
    return user is not None and subject_user_id(rating) == user.pk
