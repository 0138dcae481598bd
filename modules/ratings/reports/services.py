"""Writes of ratings.reports: the yearly star merchants (年度星级商户).

The district's rules (``settings()["stars"]``) over a merchant's counted ratings of the year (from the
tallies, overall level):

- eligible: at least ``min_ratings`` ratings, an average of at least ``min_average`` and a share of bad
  ratings (the last two levels) of at most ``max_bad_share``;
- stars: an average of ``five_star_average`` or more gives 5 stars; below it, the span from
  ``min_average`` to ``five_star_average`` is halved: the upper half gives 4 stars, the lower half 3.
  (Defaults 4.5 / 4.9: 4.50–4.69 ★★★, 4.70–4.89 ★★★★, 4.90–5.00 ★★★★★.) When ``five_star_average`` is not
  above ``min_average``, every eligible merchant gets 5.

One ``StarAward`` per merchant and year, with the figures and the rules it was judged by. Awarding is
idempotent: a merchant already awarded (or revoked) for the year is left as it is, so re-running the
year adds only merchants newly eligible. Only the district administrator may award or revoke; the
yearly task awards as the system (``actor=None``)."""
from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kernel import audit
from kernel.errors import Conflict, DomainError
from kernel.permissions import require_admin
from modules.ratings.config import settings
from modules.ratings.reports import selectors as sel
from modules.ratings.reports.models import StarAward

AWARD_ACTION = "ratings.stars.award"
REVOKE_ACTION = "ratings.stars.revoke"


def stars_for(average: Decimal, rules: dict) -> int:
    """How many stars an eligible merchant's exact average gives under ``rules`` (see the module doc)."""
    low, five = Decimal(str(rules["min_average"])), Decimal(str(rules["five_star_average"]))
    if average >= five or five <= low:
        return 5
    return 4 if average >= low + (five - low) / 2 else 3


def judge(n: int, total: int, bad: int, rules: dict) -> int | None:
    """The stars a merchant's year (n ratings, sum of levels, bad ones) earns, or None (not eligible)."""
    if n < int(rules["min_ratings"]) or n == 0:
        return None
    average = Decimal(total) / Decimal(n)
    if average < Decimal(str(rules["min_average"])):
        return None
    if Decimal(bad) / Decimal(n) > Decimal(str(rules["max_bad_share"])):
        return None
    return stars_for(average, rules)


def _check_year(year) -> int:
    try:
        year = int(year)
    except (TypeError, ValueError):
        year = 0
    if not 2000 <= year <= 2100:
        message = _("Give a year as 2026.")
        raise DomainError(message, code="bad_year", fields={"year": [message]})
    if year > timezone.localdate().year:
        message = _("The year has not begun.")
        raise DomainError(message, code="bad_year", fields={"year": [message]})
    return year


def award_stars(*, actor, year, now: dt.datetime | None = None) -> list[StarAward]:
    """Award the year's star merchants by the district's rules; returns the awards made now (none for a
    merchant already awarded or revoked for the year). ``actor`` None: the yearly task."""
    if actor is not None:
        require_admin(actor, _("Only district administrators may award star merchants."))
    year = _check_year(year)
    now = now or timezone.now()
    rules = dict(settings()["stars"])
    made: list[StarAward] = []
    with transaction.atomic():
        figures = sel.merchant_year_figures(year)
        done = set(StarAward.objects.select_for_update().filter(year=year).values_list("merchant_id", flat=True))
        for merchant_id, (n, total, bad) in sorted(figures.items()):
            if merchant_id in done:
                continue
            stars = judge(n, total, bad, rules)
            if stars is None:
                continue
            made.append(StarAward.objects.create(
                merchant_id=merchant_id, year=year, stars=stars, ratings=n,
                average=(Decimal(total) / n).quantize(Decimal("0.01"), ROUND_HALF_UP),
                bad_share=(Decimal(bad) / n).quantize(Decimal("0.0001"), ROUND_HALF_UP),
                rules=rules, awarded_at=now, awarded_by=actor if getattr(actor, "pk", None) else None))
        audit.record(actor=actor, action=AWARD_ACTION, target_type="ratings.staraward", target_id=str(year),
                     after={"year": year, "rules": rules, "awarded": [
                         {"award": a.pk, "merchant": a.merchant_id, "stars": a.stars} for a in made],
                         "already": len(done)})
    return made


def revoke_star(*, actor, award: StarAward, reason: str, now: dt.datetime | None = None) -> StarAward:
    """Revoke a star award, with a reason; the certificate page then says it is revoked."""
    require_admin(actor, _("Only district administrators may revoke a star award."))
    reason = (reason or "").strip()
    if not reason:
        message = _("Say why the award is revoked.")
        raise DomainError(message, code="reason_required", fields={"reason": [message]})
    if len(reason) > 500:
        message = _("At most 500 characters.")
        raise DomainError(message, code="reason_too_long", fields={"reason": [message]})
    with transaction.atomic():
        award = StarAward.objects.select_for_update().get(pk=award.pk)
        if award.revoked_at is not None:
            raise Conflict(_("This award is already revoked."), code="already_revoked")
        award.revoked_at = now or timezone.now()
        award.revoked_reason = reason
        award.save(update_fields=["revoked_at", "revoked_reason"])
        audit.record(actor=actor, action=REVOKE_ACTION, target=award,
                     after={"year": award.year, "merchant": award.merchant_id, "reason": reason})
    return award


def award_last_year_if_due(*, today: dt.date | None = None) -> int | None:
    """The yearly task's work: once a new year has begun, award the past year's stars once (a year
    already awarded, by hand or by an earlier run, is left alone). Returns how many were awarded, or
    None when there was nothing to do."""
    today = today or timezone.localdate()
    year = today.year - 1
    if sel.year_awarded(year):
        return None
    return len(award_stars(actor=None, year=year))
