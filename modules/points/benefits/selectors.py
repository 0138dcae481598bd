"""Reads of the tier benefits: the resident's personal code (a signed, short-lived token), what a
resident may use at which tier, what a provider's staff see after scanning the code (the tier and
their own usable benefits, nothing personal), and the public honour list of residents who opted in.

The personal code is ``TimestampSigner`` over ``<resident id base 36>.<random nonce>``, with a salt
naming the district's schema: a token of one district is a forgery in every other, and it expires
after ``TOKEN_MAX_AGE`` seconds. The resident's page asks for a new one every ``REFRESH_SECONDS``."""
from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field

from django.core import signing
from django.db import connection
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from kernel.errors import DomainError, NotAllowed
from kernel.personal import mask_name
from modules.points.ledger.selectors import tier_for, tiers
from modules.points.ledger.services import local_today, period_bounds
from modules.points.models import (
    Balance,
    BalanceKind,
    Benefit,
    BenefitUse,
    HonourOptIn,
    LimitPeriod,
    Provider,
    ProviderStaff,
)
from modules.registry.models import Membership, Resident

TOKEN_MAX_AGE = 300  # seconds a personal code stays valid
REFRESH_SECONDS = 60  # the resident's page shows a new code this often
TOKEN_MAX_LENGTH = 200
HONOUR_LIMIT = 50


# --- the personal code -----------------------------------------------------------------------------

def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=f"mashang.points.personal-code:{connection.schema_name}")


def _b36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if not n:
            return out


def issue_token(resident: Resident | int) -> str:
    """A new personal code for the resident: valid for TOKEN_MAX_AGE seconds, in this district only."""
    resident_id = getattr(resident, "pk", resident)
    return _signer().sign(f"{_b36(int(resident_id))}.{secrets.token_urlsafe(6)}")


def code_expired() -> DomainError:
    return DomainError(_("This personal code has expired. Ask the resident to open their benefits page again "
                         "and scan the new code."), code="code_expired", status=410)


def code_invalid() -> DomainError:
    return DomainError(_("This is not a valid personal code of this district."), code="code_invalid", status=400)


def read_token(token: str, *, max_age: int | None = TOKEN_MAX_AGE) -> int:
    """The resident id a personal code stands for. Expired: 410 ``code_expired``; forged, mangled or
    from another district: 400 ``code_invalid``. ``max_age=None`` checks the signature only."""
    token = (token or "").strip()
    if not token or len(token) > TOKEN_MAX_LENGTH:
        raise code_invalid()
    try:
        value = _signer().unsign(token, max_age=max_age)
    except signing.SignatureExpired:
        raise code_expired()
    except signing.BadSignature:
        raise code_invalid()
    try:
        return int(value.split(".", 1)[0], 36)
    except ValueError:
        raise code_invalid()


def code_url(token: str, domain: str | None = None) -> str:
    from modules.codes.selectors import site_origin

    return f"{f'https://{domain}' if domain else site_origin()}{reverse('points:verify', kwargs={'token': token})}"


def personal_code(resident: Resident | int, *, domain: str | None = None) -> dict:
    """A fresh code for the resident's page: the token, the URL it opens and the QR as inline SVG."""
    from modules.codes.qr import matrix, svg

    token = issue_token(resident)
    url = code_url(token, domain)
    return {"token": token, "url": url, "svg": svg(matrix(url, "M"), size_mm=50),
            "expires_in": TOKEN_MAX_AGE, "refresh_in": REFRESH_SECONDS}


# --- tiers --------------------------------------------------------------------------------------------

def tier_rank(key: str | None) -> int | None:
    """Position of a tier among the configured tiers (lowest 0); None for an unknown key."""
    for i, tier in enumerate(tiers()):
        if tier["key"] == key:
            return i
    return None


def tier_name(tier: dict | None, english: bool | None = None) -> str:
    if not tier:
        return ""
    if english is None:
        english = (get_language() or "").startswith("en")
    return (tier.get("name_en") or tier["name_zh"]) if english else tier["name_zh"]


def civic_points(resident: Resident | int) -> int:
    resident_id = getattr(resident, "pk", resident)
    return Balance.objects.filter(resident_id=resident_id, kind=BalanceKind.CIVIC).values_list(
        "points", flat=True).first() or 0


def tier_of(resident: Resident | int) -> dict | None:
    """The resident's tier now (their civic balance against the configured thresholds)."""
    return tier_for(civic_points(resident))


# --- benefits a resident may use ------------------------------------------------------------------

def in_force(day: dt.date | None = None) -> QuerySet:
    """Active benefits of active providers, valid on ``day`` (today)."""
    day = day or local_today()
    return (Benefit.objects.filter(active=True, provider__active=True)
            .filter(Q(valid_from__isnull=True) | Q(valid_from__lte=day), Q(valid_to__isnull=True) | Q(valid_to__gte=day))
            .select_related("provider"))


def period_start(period: str, now: dt.datetime | None = None) -> dt.datetime | None:
    """When the current limit period began (local midnight); None for a limit over all time."""
    if period not in (LimitPeriod.DAY, LimitPeriod.MONTH, LimitPeriod.YEAR):
        return None
    start, _end = period_bounds(period, local_today(now))
    return timezone.make_aware(dt.datetime.combine(start, dt.time.min))


def used_in_period(resident_id: int, benefits: list[Benefit], now: dt.datetime | None = None) -> dict[int, int]:
    """Uses of each limited benefit by the resident in its current period — one query."""
    condition = Q(pk__in=[])
    for b in benefits:
        if b.limit_count:
            start = period_start(b.limit_period, now)
            condition |= Q(benefit_id=b.pk, at__gte=start) if start else Q(benefit_id=b.pk)
    counts: dict[int, int] = {}
    if not any(b.limit_count for b in benefits):
        return counts
    for benefit_id in BenefitUse.objects.filter(condition, resident_id=resident_id).values_list("benefit_id", flat=True):
        counts[benefit_id] = counts.get(benefit_id, 0) + 1
    return counts


def limit_text(benefit: Benefit) -> str:
    if not benefit.limit_count:
        return _("no limit")
    if benefit.limit_period == LimitPeriod.NONE:
        return _("%(n)d times in all") % {"n": benefit.limit_count}
    return _("%(n)d times %(period)s") % {"n": benefit.limit_count, "period": LimitPeriod(benefit.limit_period).label}


@dataclass
class BenefitRow:
    benefit: Benefit
    tier: dict  # the benefit's minimum tier
    unlocked: bool  # the resident's tier reaches it
    remaining: int | None  # uses left in this period (None: no limit)
    limit: str
    recorded: bool = False  # the verify page: already recorded with the code being shown

    @property
    def usable(self) -> bool:
        return self.unlocked and (self.remaining is None or self.remaining > 0)


def _rows(resident_id: int, benefits: list[Benefit], rank: int | None, now=None) -> list[BenefitRow]:
    levels = {t["key"]: (i, t) for i, t in enumerate(tiers())}
    known = [b for b in benefits if b.min_tier in levels]  # a benefit of a tier no longer configured: hidden
    used = used_in_period(resident_id, [b for b in known if rank is not None and levels[b.min_tier][0] <= rank], now)
    rows = []
    for b in known:
        level, tier = levels[b.min_tier]
        unlocked = rank is not None and level <= rank
        remaining = max(b.limit_count - used.get(b.pk, 0), 0) if b.limit_count else None
        rows.append(BenefitRow(b, tier, unlocked, remaining, limit_text(b)))
    rows.sort(key=lambda r: (levels[r.benefit.min_tier][0], r.benefit.provider.kind, r.benefit.provider.name,
                             r.benefit.title))
    return rows


@dataclass
class TierGroup:
    tier: dict
    reached: bool
    is_next: bool
    benefits: list[BenefitRow] = field(default_factory=list)


@dataclass
class ResidentBenefits:
    points: int
    tier: dict | None
    next_tier: dict | None
    rows: list[BenefitRow]
    groups: list[TierGroup]

    @property
    def to_next(self) -> int:
        return max(self.next_tier["min_points"] - self.points, 0) if self.next_tier else 0


def benefits_for(resident: Resident | int, *, now=None) -> ResidentBenefits:
    """What the resident's benefits page shows: their tier, and every benefit in force grouped by the
    tier that unlocks it, with the uses left this period for those unlocked."""
    resident_id = getattr(resident, "pk", resident)
    points = civic_points(resident_id)
    tier = tier_for(points)
    rank = tier_rank(tier["key"]) if tier else None
    rows = _rows(resident_id, list(in_force(local_today(now))), rank, now)
    ladder = tiers()
    nxt = ladder[rank + 1] if rank is not None and rank + 1 < len(ladder) else (ladder[0] if rank is None and ladder
                                                                                  else None)
    groups = []
    for i, t in enumerate(ladder):
        groups.append(TierGroup(t, rank is not None and i <= rank, nxt is not None and t["key"] == nxt["key"],
                                [r for r in rows if r.benefit.min_tier == t["key"]]))
    return ResidentBenefits(points, tier, nxt, rows, groups)


# --- what provider staff see ------------------------------------------------------------------------

def providers_of(user) -> list[Provider]:
    """The active providers the user records uses for."""
    if not getattr(user, "is_authenticated", False):
        return []
    return list(Provider.objects.filter(active=True, staff__user=user).order_by("kind", "name").distinct())


def is_provider_staff(user, provider: Provider | int) -> bool:
    provider_id = getattr(provider, "pk", provider)
    return bool(getattr(user, "is_authenticated", False)) and ProviderStaff.objects.filter(
        user=user, provider_id=provider_id, provider__active=True).exists()


def not_provider_staff() -> NotAllowed:
    return NotAllowed(_("Only the staff of a benefit provider may check personal codes. Ask the district "
                        "administrator to add you to your provider."), code="not_provider_staff")


@dataclass
class ProviderView:
    """After a scan: the resident's tier and, per provider of the staff member, the benefits the
    resident may use now. Deliberately nothing else (no name, phone, ID number or balance)."""

    tier: dict | None
    providers: list[tuple[Provider, list[BenefitRow]]]


def provider_view(token: str, user, *, now=None) -> ProviderView:
    """The scan of a personal code by provider staff. The staff check comes first, so someone who is
    not provider staff learns nothing, not even whether the code is valid."""
    mine = providers_of(user)
    if not mine:
        raise not_provider_staff()
    resident_id = read_token(token)
    if not Resident.objects.filter(pk=resident_id).exists():
        raise code_invalid()
    tier = tier_of(resident_id)
    rank = tier_rank(tier["key"]) if tier else None
    benefits = list(in_force(local_today(now)).filter(provider__in=mine))
    rows = [r for r in _rows(resident_id, benefits, rank, now) if r.usable]
    return ProviderView(tier, [(p, [r for r in rows if r.benefit.provider_id == p.pk]) for p in mine])


def recent_uses(user, *, limit: int = 20) -> list[BenefitUse]:
    """The last uses recorded at the user's providers (for their desk; no resident data)."""
    mine = providers_of(user)
    return list(BenefitUse.objects.filter(benefit__provider__in=mine).select_related("benefit__provider", "recorded_by")
                .order_by("-at", "-id")[:limit])


# --- the honour list ---------------------------------------------------------------------------------

def honour_rows(*, community: str | None = None) -> QuerySet:
    """Residents who opted in and reached a tier, best first (plain rows; names are masked by
    ``honour_entry``). One query: opt-ins joined with their civic balance and current community."""
    ladder = tiers()
    threshold = ladder[0]["min_points"] if ladder else 1
    current = Membership.objects.filter(resident_id=OuterRef("resident_id"), ended_at__isnull=True).order_by("id")
    qs = (HonourOptIn.objects.filter(public=True)
          .annotate(points=Subquery(Balance.objects.filter(resident_id=OuterRef("resident_id"),
                                                           kind=BalanceKind.CIVIC).values("points")[:1]),
                    community=Subquery(current.values("household__grid__community__name")[:1]))
          .filter(points__gte=threshold)
          .order_by(F("points").desc(), "resident_id")
          .values("resident__name", "show_name", "points", "community"))
    if community:
        qs = qs.filter(Exists(Membership.objects.filter(resident_id=OuterRef("resident_id"), ended_at__isnull=True,
                                                        household__grid__community__code=community)))
    return qs


def honour_entry(row: dict, rank: int) -> dict:
    tier = tier_for(row["points"])
    name = mask_name(row["resident__name"]) if row["show_name"] == HonourOptIn.ShowName.MASKED else _("A resident")
    return {"rank": rank, "name": name, "community": row["community"] or "", "tier": tier["key"] if tier else "",
            "tier_name": tier_name(tier), "points": row["points"]}


def honour_list(limit: int = HONOUR_LIMIT, community: str | None = None, *, offset: int = 0) -> list[dict]:
    """The public honour list (光荣榜): opted-in residents only, masked or anonymous, with their community,
    tier and civic points."""
    rows = honour_rows(community=community)[offset:offset + limit]
    return [honour_entry(row, offset + i + 1) for i, row in enumerate(rows)]


def opt_in_of(resident: Resident | int) -> HonourOptIn | None:
    return HonourOptIn.objects.filter(resident_id=getattr(resident, "pk", resident)).first()
