"""Reads of the ledger: a subject from a scanned code, the rater's own ratings, their live rating of a
subject this period."""
from __future__ import annotations

from django.db.models import QuerySet

from modules.codes.models import Code
from modules.ratings.config import dimensions, settings
from modules.ratings.ledger.models import LIVE_STATES, Rating, SubjectKind
from modules.ratings.ledger.periods import period_key

RATED_KINDS = (Code.Kind.OFFICIAL, Code.Kind.MERCHANT, Code.Kind.STALL)


class NoSubject(Exception):
    pass


def subject_of_code(token: str):
    """(kind, official, merchant, code) of an active official, merchant or stall code; NoSubject else."""
    code = (Code.objects.select_related("official__department", "official__user", "merchant__grid__community")
            .filter(token=token or "", kind__in=RATED_KINDS).first())
    if code is None or not code.is_active:
        raise NoSubject(token)
    if code.official_id:
        return SubjectKind.OFFICIAL, code.official, None, code
    return SubjectKind.MERCHANT, None, code.merchant, code


def subject_by_id(kind: str, pk):
    """(official, merchant) for ``subject_kind`` and ``subject_id``; NoSubject when there is none."""
    from modules.registry.models import Merchant, Official

    model = {SubjectKind.OFFICIAL: Official, SubjectKind.MERCHANT: Merchant}.get(kind)
    obj = model.objects.filter(pk=pk).first() if model is not None and pk is not None else None
    if obj is None:
        raise NoSubject(f"{kind}:{pk}")
    return (obj, None) if kind == SubjectKind.OFFICIAL else (None, obj)


def ratings_of(user) -> QuerySet:
    """The ratings ``user`` gave, newest first, with their subject and follow-up."""
    return (Rating.objects.filter(rater=user)
            .select_related("official__department", "merchant", "follow_up", "replaced_by")
            .order_by("-created_at", "-id"))


def rating_of(user, pk) -> Rating | None:
    return ratings_of(user).filter(pk=pk).first()


def live_rating(user, *, official=None, merchant=None, now=None) -> Rating | None:
    """The rater's live rating of this subject in the current period (what a new one would replace)."""
    from django.utils import timezone

    if not getattr(user, "pk", None):
        return None
    period = period_key(now or timezone.now(), settings()["period"])
    return (Rating.objects.filter(rater_key=f"u:{user.pk}", official=official, merchant=merchant, period_key=period,
                                  state__in=LIVE_STATES, follow_on_of__isnull=True).first())


def dimension_names(kind: str, english: bool) -> list[tuple[str, str]]:
    """(key, name) of the district's dimensions of ``kind``, in the reader's language."""
    return [(d["key"], (d.get("name_en") or d["name_zh"]) if english else d["name_zh"]) for d in dimensions(kind)]
