"""Reads of ratings.integrity: the queue of held ratings a reviewer may decide, one held rating with its
reasons and what surrounds it, and the ratings held out of a subject's figures, by rule (the reports
show "held out and why")."""
from __future__ import annotations

import datetime as dt
from collections import Counter

from django.db.models import Q, QuerySet

from modules.ratings.config import settings
from modules.ratings.integrity.checks import RULES, describe, rule_name
from modules.ratings.integrity.services import reviewable
from modules.ratings.ledger.models import Rating, State, SubjectKind

CONTEXT_MAX = 20  # other ratings shown beside a held one


def held_queue(user, *, rule: str | None = None, subject_kind: str | None = None, unit: str | None = None,
               state: str = State.HELD) -> QuerySet:
    """The held ratings ``user`` may decide, oldest first. ``rule``: held for that rule; ``subject_kind``:
    official or merchant; ``unit``: the code of the department, street, community or grid it counts for."""
    qs = Rating.objects.filter(state=state)
    if rule:
        qs = qs.filter(hold_reasons__contains=[{"rule": rule}])
    if subject_kind:
        qs = qs.filter(subject_kind=subject_kind)
    if unit:
        qs = qs.filter(Q(department__code=unit) | Q(grid__code=unit) | Q(community__code=unit)
                       | Q(street__code=unit))
    return (reviewable(user, qs).select_related("official__department", "merchant", "department", "grid",
                                                 "rater_household__building__compound")
            .order_by("created_at", "id"))


def queue_counts(user) -> dict[str, int]:
    """How many of ``user``'s held ratings each rule holds (a rating held for two rules counts twice)."""
    counts: Counter = Counter()
    for reasons in held_queue(user).values_list("hold_reasons", flat=True):
        counts.update({r.get("rule") for r in reasons or [] if isinstance(r, dict)})
    return {rule: counts.get(rule, 0) for rule in RULES}


def reasons_of(rating: Rating) -> list[dict]:
    """The rating's findings for a reader: rule key, its name and detail in the reader's language."""
    return [{"rule": r.get("rule", ""), "name": rule_name(r.get("rule", "")), "detail": describe(r),
             "by": r.get("by", "")}
            for r in rating.hold_reasons or [] if isinstance(r, dict)]


def subject_name(rating: Rating) -> str:
    if rating.subject_kind == SubjectKind.OFFICIAL and rating.official_id:
        return rating.official.name
    if rating.subject_kind == SubjectKind.MERCHANT and rating.merchant_id:
        return rating.merchant.name
    return rating.grid.name if rating.grid_id else ""


def rater_kind(rating: Rating) -> str:
    """"account", "phone" or "case": how the rater is known (who they are stays with the ledger)."""
    return {"u": "account", "p": "phone", "case": "case"}.get(rating.rater_key.split(":", 1)[0], "other")


def _subject_filter(rating: Rating) -> dict:
    if rating.subject_kind == SubjectKind.OFFICIAL:
        return {"subject_kind": SubjectKind.OFFICIAL, "official_id": rating.official_id}
    if rating.subject_kind == SubjectKind.MERCHANT:
        return {"subject_kind": SubjectKind.MERCHANT, "merchant_id": rating.merchant_id}
    return {"subject_kind": rating.subject_kind, "grid_id": rating.grid_id, "department_id": rating.department_id}


def held_context(rating: Rating) -> dict:
    """What a reviewer weighs beside a held rating: the subject's other ratings in the same period from
    the same household, device or network (which of them match), the subject's ratings in the burst
    window around it, and the subject's counted history (count and average) before it."""
    rules = settings()["integrity"]
    subject = Rating.objects.filter(**_subject_filter(rating)).exclude(pk=rating.pk)
    source = Q(pk__in=[])
    if rating.rater_household_id:
        source |= Q(rater_household_id=rating.rater_household_id)
    if rating.device_hash:
        source |= Q(device_hash=rating.device_hash)
    if rating.network_hash:
        source |= Q(network_hash=rating.network_hash)
    same_source = []
    for other in subject.filter(source, period_key=rating.period_key).order_by("created_at", "id")[:CONTEXT_MAX]:
        matches = [name for name, hit in (
            ("household", rating.rater_household_id and other.rater_household_id == rating.rater_household_id),
            ("device", rating.device_hash and other.device_hash == rating.device_hash),
            ("network", rating.network_hash and other.network_hash == rating.network_hash)) if hit]
        same_source.append({"id": other.pk, "created_at": other.created_at, "level": other.level,
                            "state": other.state, "channel": other.channel, "matches": matches,
                            "same_rater": other.rater_key == rating.rater_key})
    minutes = int(rules["burst_minutes"])
    window = dt.timedelta(minutes=minutes)
    burst = subject.filter(state__in=[State.COUNTED, State.HELD], created_at__gte=rating.created_at - window,
                           created_at__lte=rating.created_at + window).count()
    earlier = list(subject.filter(state=State.COUNTED, created_at__lt=rating.created_at)
                   .order_by("-created_at", "-id").values_list("level", flat=True)[:1000])
    recent = earlier[: int(rules["swing_window"]) - 1]
    return {
        "same_source": same_source,
        "burst_minutes": minutes,
        "around": burst,
        "history": {"count": len(earlier), "average": round(sum(earlier) / len(earlier), 2) if earlier else None,
                    "recent": recent},
    }


def held_out_by_rule(*, official=None, merchant=None, period_key: str | None = None,
                     start: dt.datetime | None = None, end: dt.datetime | None = None) -> list[dict]:
    """The ratings of one subject out of its figures for the anti-gaming rules, per rule: ``held``
    (waiting for a reviewer) and ``rejected`` (a reviewer found them not genuine). Limited to a rating
    period (``period_key``) or a time span (``start`` ≤ created_at < ``end``). A rating held for two
    rules counts under each. Rules with nothing held are left out."""
    if (official is None) == (merchant is None):
        raise ValueError("one of official or merchant")
    qs = Rating.objects.filter(official=official) if official is not None else Rating.objects.filter(merchant=merchant)
    qs = qs.filter(state__in=[State.HELD, State.REJECTED]).exclude(hold_reasons=[])
    if period_key:
        qs = qs.filter(period_key=period_key)
    if start is not None:
        qs = qs.filter(created_at__gte=start)
    if end is not None:
        qs = qs.filter(created_at__lt=end)
    held: Counter = Counter()
    rejected: Counter = Counter()
    for state, reasons in qs.values_list("state", "hold_reasons"):
        rules = {r.get("rule") for r in reasons or [] if isinstance(r, dict)}
        (held if state == State.HELD else rejected).update(rules)
    return [{"rule": rule, "name": rule_name(rule), "held": held.get(rule, 0), "rejected": rejected.get(rule, 0)}
            for rule in RULES if held.get(rule) or rejected.get(rule)]
