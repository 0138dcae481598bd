"""The anti-gaming rules, asked of every new rating before it counts (``check_new``) and run over the
whole ledger by the periodic pass (``integrity.scan``, the same rules as set-based SQL).

``check_new(rating)`` gets the unsaved rating (all its fields set, ``pk`` None) inside the submitting
transaction and returns the findings, ``[{"rule": key, "detail": words for the reviewer, "numbers":
{...}}]``; a rating with findings is saved ``held`` with them as ``hold_reasons``. An empty list: it
counts. ``detail`` is written in the district's language; ``describe(reason)`` says it again in the
reader's language from ``rule`` and ``numbers``.

The rules (thresholds: ``config.settings()["integrity"]``). "Live" ratings are counted or held ones;
a subject is an official or a merchant (a handling unit, rated only through a real case, is not
checked: there is no person behind it to favour or harm).

- ``burst``: the subject already has ``burst_count`` or more live ratings made in the
  ``burst_minutes`` up to this one.
- ``same_household`` / ``same_device`` / ``same_network``: at most ``same_source_max`` raters from one
  household (``rater_household``), device (``device_hash``) or network (``network_hash``) count for a
  subject in one period without review. A rating is held when ``same_source_max`` or more *other*
  raters (other ``rater_key``) from the same source already have a live rating of the subject in the
  same ``period_key`` (a follow-on rating, 追评, is its rater's own and not another rater). With the
  default 3: the fourth rater from one household and every later one are held. A blank device or
  network hash is unknown, never a source.
- ``colleague`` (``flag_colleagues``): the rater's account is a registry Official of the department
  the rated official belongs to (the rating's ``department``), the official themselves included.
- ``family`` (``flag_colleagues``): the rater shares a current household (registry Membership) with
  the rated official's own account, or a merchant's owner; the rater's household is the one recorded
  on the rating and those of the rater's resident record. A merchant's owner rating their own shop is
  ``family`` too.
- ``swing``: against the subject's counted history. The recent window is this rating and the newest
  ``swing_window - 1`` counted ratings before it; the baseline is every counted rating older than the
  window. Held when the baseline has at least ``swing_history_min`` ratings, the window's average is
  below the baseline's by ``swing_drop`` or more, and this rating itself is below the baseline average
  (a good rating is never held for the bad ones before it).

Cost: two indexed queries per submission, none when nothing can match: one over the subject's own
ratings (the ``(official|merchant, created_at)`` indexes; it answers burst, the three sources and the
swing together), one over the registry's officials and memberships (unique ``user_id``, current
memberships) for colleague and family."""
from __future__ import annotations

import datetime as dt

from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy

from modules.ratings.config import settings
from modules.ratings.ledger.models import Rating, SubjectKind
from modules.ratings.ledger.periods import period_key

RULES = ("burst", "same_household", "same_device", "same_network", "colleague", "family", "swing")
SOURCES = {"same_household": "rater_household_id", "same_device": "device_hash", "same_network": "network_hash"}

RULE_NAMES = {
    "burst": gettext_lazy("Burst of ratings"),
    "same_household": gettext_lazy("Many raters from one household"),
    "same_device": gettext_lazy("Many raters from one device"),
    "same_network": gettext_lazy("Many raters from one network"),
    "colleague": gettext_lazy("Rated by a colleague"),
    "family": gettext_lazy("Rated by family"),
    "swing": gettext_lazy("Sudden swing against the history"),
}

_DETAILS = {
    "burst": gettext_lazy("%(before)d ratings of this subject in the %(minutes)d minutes before this one "
                          "(limit %(limit)d)."),
    "same_household": gettext_lazy("%(others)d other raters from the same household already rated this subject "
                                   "in period %(period)s (at most %(limit)d count without review)."),
    "same_device": gettext_lazy("%(others)d other raters from the same device already rated this subject "
                                "in period %(period)s (at most %(limit)d count without review)."),
    "same_network": gettext_lazy("%(others)d other raters from the same network already rated this subject "
                                 "in period %(period)s (at most %(limit)d count without review)."),
    "colleague": gettext_lazy("The rater is an official of the same department as this official."),
    "colleague_self": gettext_lazy("The rater is this official themselves."),
    "family": gettext_lazy("The rater lives in the same household as the rated person."),
    "family_owner": gettext_lazy("The rater owns this merchant."),
    "swing": gettext_lazy("The last %(window)d ratings average %(recent).2f against %(baseline).2f over the "
                          "%(history)d before them (a drop of %(drop).2f; the limit is %(limit).2f)."),
}


def rule_name(rule: str) -> str:
    return str(RULE_NAMES.get(rule, rule))


def describe(reason: dict) -> str:
    """A finding's detail in the current language (from its rule and numbers), else as it was stored."""
    numbers = reason.get("numbers")
    template = _DETAILS.get(reason.get("variant") or reason.get("rule"))
    if template is not None and isinstance(numbers, dict):
        try:
            return str(template) % numbers
        except (KeyError, TypeError, ValueError):
            pass
    return str(reason.get("detail") or "")


def finding(rule: str, numbers: dict | None = None, *, variant: str | None = None, **extra) -> dict:
    """One finding: the rule's key, its detail in the district's language, the numbers behind it."""
    numbers = numbers or {}
    if translation.get_language() == django_settings.LANGUAGE_CODE:  # the pass renders thousands at once
        detail = str(_DETAILS[variant or rule]) % numbers
    else:
        with translation.override(django_settings.LANGUAGE_CODE):
            detail = str(_DETAILS[variant or rule]) % numbers
    out = {"rule": rule, "detail": detail, "numbers": numbers}
    if variant:
        out["variant"] = variant
    return {**out, **extra}


def period_start(at: dt.datetime, period: str) -> dt.datetime | None:
    """The first moment of the period ``at`` falls in (district time), or None for an unknown period."""
    d = timezone.localtime(at).date()
    if period == "day":
        start = d
    elif period == "week":
        start = d - dt.timedelta(days=d.weekday())
    elif period == "month":
        start = d.replace(day=1)
    elif period == "quarter":
        start = d.replace(month=(d.month - 1) // 3 * 3 + 1, day=1)
    elif period == "year":
        start = d.replace(month=1, day=1)
    else:
        return None
    return timezone.make_aware(dt.datetime.combine(start, dt.time.min))


# --- the subject's own ratings: burst, the three sources, swing (one query) ------------------------------

_LEDGER_SQL = """
WITH s AS (
    SELECT id, created_at, level, state, period_key, rater_key, rater_household_id, device_hash, network_hash,
           follow_on_of_id
    FROM ratings_rating
    WHERE {subject} = %(subject)s AND created_at <= %(at)s
), h AS (
    SELECT level, row_number() OVER (ORDER BY created_at DESC, id DESC) AS rn
    FROM s WHERE state = 'counted'
)
SELECT
    (SELECT count(*) FROM s WHERE state IN ('counted', 'held') AND created_at >= %(burst_since)s),
    (SELECT count(DISTINCT rater_key) FROM s WHERE {source_where} AND rater_household_id = %(household)s),
    (SELECT count(DISTINCT rater_key) FROM s WHERE {source_where} AND device_hash = %(device)s),
    (SELECT count(DISTINCT rater_key) FROM s WHERE {source_where} AND network_hash = %(network)s),
    (SELECT count(*) FROM h WHERE rn < %(window)s),
    (SELECT sum(level) FROM h WHERE rn < %(window)s),
    (SELECT count(*) FROM h WHERE rn >= %(window)s),
    (SELECT sum(level) FROM h WHERE rn >= %(window)s)
"""
_SOURCE_WHERE = ("state IN ('counted', 'held') AND follow_on_of_id IS NULL AND period_key = %(period)s "
                 "AND rater_key <> %(rater_key)s AND created_at >= %(period_since)s")


def _ledger_findings(rating: Rating, rules: dict, at: dt.datetime) -> list[dict]:
    subject_column = "official_id" if rating.subject_kind == SubjectKind.OFFICIAL else "merchant_id"
    subject_id = rating.official_id if rating.subject_kind == SubjectKind.OFFICIAL else rating.merchant_id
    period = settings()["period"]
    since = period_start(at, period) if period_key(at, period) == rating.period_key else None
    window = int(rules["swing_window"])
    params = {
        "subject": subject_id, "at": at, "burst_since": at - dt.timedelta(minutes=int(rules["burst_minutes"])),
        "period": rating.period_key, "rater_key": rating.rater_key,
        # a rating's period_key is made from its date: nothing older than the period's start is in it (a
        # period setting changed since: look at the whole history)
        "period_since": since if since is not None else dt.datetime.min.replace(tzinfo=dt.UTC),
        "household": rating.rater_household_id, "device": rating.device_hash or None,
        "network": rating.network_hash or None, "window": window,
    }
    sql = _LEDGER_SQL.format(subject=subject_column, source_where=_SOURCE_WHERE)
    with connection.cursor() as cur:
        cur.execute(sql, params)
        burst, household, device, network, recent_n, recent_sum, base_n, base_sum = cur.fetchone()
    found = []
    limit = int(rules["burst_count"])
    if burst >= limit:
        found.append(finding("burst", {"before": burst, "minutes": int(rules["burst_minutes"]), "limit": limit}))
    most = int(rules["same_source_max"])
    for rule, others in (("same_household", household), ("same_device", device), ("same_network", network)):
        if others >= most:
            found.append(finding(rule, {"others": others, "period": rating.period_key, "limit": most}))
    swing = swing_finding(level=rating.level, recent_n=recent_n, recent_sum=recent_sum or 0, base_n=base_n,
                          base_sum=base_sum or 0, rules=rules)
    if swing:
        found.append(swing)
    return found


def swing_finding(*, level: int, recent_n: int, recent_sum: int, base_n: int, base_sum: int, rules: dict,
                  **extra) -> dict | None:
    """The swing rule on numbers: ``recent_*`` are the window's earlier ratings (this one not included)."""
    if base_n < int(rules["swing_history_min"]) or base_n == 0:
        return None
    baseline = base_sum / base_n
    recent = (recent_sum + level) / (recent_n + 1)
    drop = baseline - recent
    limit = float(rules["swing_drop"])
    if drop + 1e-9 < limit or level >= baseline:
        return None
    return finding("swing", {"window": recent_n + 1, "recent": round(recent, 2), "baseline": round(baseline, 2),
                             "history": base_n, "drop": round(drop, 2), "limit": limit}, **extra)


# --- who the rater is to the subject: colleague, family (one query) --------------------------------------

_PEOPLE_SQL = """
SELECT
    (SELECT o.id FROM registry_official o
      WHERE o.user_id = %(rater)s
        AND o.department_id = COALESCE(%(department)s, (SELECT department_id FROM registry_official
                                                          WHERE id = %(official)s))),
    (SELECT m.household_id
       FROM registry_resident sr JOIN registry_membership m ON m.resident_id = sr.id AND m.ended_at IS NULL
      WHERE sr.user_id = %(subject_user)s
        AND (m.household_id = %(household)s OR m.household_id IN (
            SELECT rm.household_id FROM registry_resident rr
              JOIN registry_membership rm ON rm.resident_id = rr.id AND rm.ended_at IS NULL
             WHERE rr.user_id = %(rater)s))
      LIMIT 1)
"""
_SUBJECT_USER = {
    SubjectKind.OFFICIAL: "(SELECT user_id FROM registry_official WHERE id = %(official)s)",
    SubjectKind.MERCHANT: "(SELECT owner_id FROM registry_merchant WHERE id = %(merchant)s)",
}


def _people_findings(rating: Rating) -> list[dict]:
    if rating.rater_id is None and rating.rater_household_id is None:
        return []
    subject_user = _SUBJECT_USER[rating.subject_kind]
    sql = f"SELECT {subject_user}, x.* FROM ({_PEOPLE_SQL}) x"
    params = {"rater": rating.rater_id, "department": rating.department_id, "official": rating.official_id,
              "merchant": rating.merchant_id, "household": rating.rater_household_id}
    sql = sql.replace("%(subject_user)s", subject_user)
    with connection.cursor() as cur:
        cur.execute(sql, params)
        subject_user_id, colleague, shared_household = cur.fetchone()
    found = []
    if rating.subject_kind == SubjectKind.OFFICIAL and colleague is not None:
        found.append(finding("colleague", variant="colleague_self" if colleague == rating.official_id else None))
    if rating.subject_kind == SubjectKind.MERCHANT and rating.rater_id is not None and rating.rater_id == subject_user_id:
        found.append(finding("family", variant="family_owner"))
    elif shared_household is not None:
        found.append(finding("family"))
    return found


def check_new(rating: Rating) -> list[dict]:
    if rating.subject_kind not in (SubjectKind.OFFICIAL, SubjectKind.MERCHANT):
        return []
    rules = settings()["integrity"]
    at = rating.created_at or timezone.now()
    found = _ledger_findings(rating, rules, at)
    if rules.get("flag_colleagues", True):
        found += _people_findings(rating)
    order = {rule: i for i, rule in enumerate(RULES)}
    return sorted(found, key=lambda f: order.get(f["rule"], len(order)))

