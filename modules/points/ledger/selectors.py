"""Reads of the ledger: balances and history (why a balance is what it is), honour tiers, the
rulebook in force (and the rules staff may post), the compound ranking, and the ledger check (every
balance equals the sum of its entries)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext as _

from modules.points.ledger.models import (
    Balance,
    BalanceKind,
    CompoundScore,
    Entry,
    RuleVersion,
)
from modules.points.ledger.services import config, local_today
from modules.registry.models import Resident

# --- tiers --------------------------------------------------------------------------------------------

def tiers() -> list[dict]:
    """The district's honour tiers, lowest first."""
    return sorted((dict(t) for t in config().get("tiers") or []), key=lambda t: t["min_points"])


def tier_for(points: int) -> dict | None:
    """The highest tier whose threshold the civic balance reaches (None below the first)."""
    reached = [t for t in tiers() if points >= t["min_points"]]
    return reached[-1] if reached else None


def next_tier(points: int) -> dict | None:
    ahead = [t for t in tiers() if points < t["min_points"]]
    return ahead[0] if ahead else None


# --- a resident's points --------------------------------------------------------------------------

def balances(resident: Resident | int) -> dict[str, int]:
    """Civic balance (and material, where the district keeps it) — one index lookup."""
    resident_id = getattr(resident, "pk", resident)
    found = dict(Balance.objects.filter(resident_id=resident_id).values_list("kind", "points"))
    out = {BalanceKind.CIVIC.value: found.get(BalanceKind.CIVIC, 0)}
    if config().get("material_points") or found.get(BalanceKind.MATERIAL):
        out[BalanceKind.MATERIAL.value] = found.get(BalanceKind.MATERIAL, 0)
    return out


def history(resident: Resident | int, *, kind: str | None = None) -> QuerySet:
    """The resident's entries, newest first, each with its rule version, reason, source and approver
    (index ``points_entry_history``: resident, id desc)."""
    resident_id = getattr(resident, "pk", resident)
    qs = (Entry.objects.filter(resident_id=resident_id)
          .select_related("rule_version", "rule", "posted_by", "approved_by").order_by("-id"))
    if kind:
        qs = qs.filter(kind=kind)
    return qs


HISTORY_FIELDS = {  # API name -> lookup
    "id": "id", "posted_at": "posted_at", "occurred_on": "occurred_on", "kind": "kind", "points": "points",
    "reason": "reason", "evidence": "evidence", "rule": "rule__code", "rule_name": "rule_version__name_zh",
    "rule_name_en": "rule_version__name_en", "rule_version": "rule_version__version", "source_kind": "source_kind",
    "source_id": "source_id", "posted_by": "posted_by__username", "approved_by": "approved_by__username",
    "reverses": "reverses_id", "reversed": "reversed",
}


def history_rows(resident: Resident | int, *, limit: int = 20, offset: int = 0, kind: str | None = None) -> list[dict]:
    """One page of the resident's history as plain rows (one query: the page's entries with their rule
    version, poster and approver, and whether each was reversed since)."""
    qs = history(resident, kind=kind).annotate(
        reversed=Exists(Entry.objects.filter(reverses_id=OuterRef("pk")))).values(*HISTORY_FIELDS.values())
    lookups = list(HISTORY_FIELDS.items())
    return [{name: row[lookup] for name, lookup in lookups} for row in qs[offset:offset + limit]]


@dataclass
class Summary:
    resident_id: int
    balances: dict
    tier: dict | None
    next_tier: dict | None
    entries: list[dict]
    total_entries: int


def summary(resident: Resident | int, *, limit: int = 20, offset: int = 0, kind: str | None = None) -> Summary:
    """What the resident's points page shows — two queries: the balance rows (points and entry counts
    per kind), and a page of history."""
    resident_id = getattr(resident, "pk", resident)
    rows = list(Balance.objects.filter(resident_id=resident_id).values_list("kind", "points", "entries"))
    found = {k: p for k, p, _n in rows}
    bal = {BalanceKind.CIVIC.value: found.get(BalanceKind.CIVIC, 0)}
    if config().get("material_points") or found.get(BalanceKind.MATERIAL):
        bal[BalanceKind.MATERIAL.value] = found.get(BalanceKind.MATERIAL, 0)
    total = sum(n for k, _p, n in rows if kind is None or k == kind)
    civic = bal[BalanceKind.CIVIC.value]
    entries = history_rows(resident_id, limit=limit, offset=offset, kind=kind) if total > offset else []
    return Summary(resident_id, bal, tier_for(civic), next_tier(civic), entries, total)


# --- rulebook ---------------------------------------------------------------------------------------

def rules_in_force(day: dt.date | None = None, *, include_all: bool = False) -> QuerySet:
    """Current versions of the rules (those in force on ``day`` unless ``include_all``)."""
    qs = RuleVersion.objects.filter(is_current=True).select_related("rule").order_by("direction", "category",
                                                                                     "rule__code")
    if not include_all:
        day = day or local_today()
        qs = qs.filter(Q(effective_from__isnull=True) | Q(effective_from__lte=day),
                       Q(effective_to__isnull=True) | Q(effective_to__gte=day))
    return qs


def rule_history(code: str) -> QuerySet:
    return RuleVersion.objects.filter(rule__code=code).order_by("-version")


def version_note(note: str) -> str:
    """A version's note as shown: one copied from a rulebook template says which, in words."""
    from modules.points.ledger.rules import TEMPLATE_NOTE

    if not note.startswith(TEMPLATE_NOTE):
        return note
    if note.removeprefix(TEMPLATE_NOTE).strip().lower() == "kangbashi":
        return _("Copied from the Kangbashi rulebook")
    return _("Copied from the example rulebook")


def rule_choices(day=None) -> list[RuleVersion]:
    """Rules staff may post or propose now: current versions in force, not automatic ones."""
    return list(rules_in_force(day).filter(auto_source=""))


def rulebook(*, include_all: bool) -> list[RuleVersion]:
    """Current versions (in force today, or all), each with ``versions`` (how many) and ``in_force``."""
    rows = list(rules_in_force(include_all=include_all).annotate(
        versions=Count("rule__versions", distinct=True)))
    today = local_today()
    for v in rows:
        v.in_force = v.applies_on(today)
    return rows


# --- compound ranking --------------------------------------------------------------------------------

def compound_ranking(*, limit: int = 20, community: str | None = None) -> list[CompoundScore]:
    """Compounds by civility score (precomputed by the periodic refresh; ``computed_at`` says when)."""
    qs = CompoundScore.objects.select_related("compound").order_by("rank", "compound_id")
    if community:
        qs = qs.filter(compound__community__code=community)
    return list(qs[:limit])


# --- checks and figures -------------------------------------------------------------------------------

def ledger_mismatches(limit: int = 100) -> list[tuple[int, str, int, int]]:
    """(resident, kind, balance, sum of entries) wherever they differ — should always be empty."""
    entry, balance = Entry._meta.db_table, Balance._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"""
            SELECT coalesce(b.resident_id, s.resident_id), coalesce(b.kind, s.kind),
                   coalesce(b.points, 0), coalesce(s.points, 0)
            FROM {balance} b
            FULL JOIN (SELECT resident_id, kind, sum(points) AS points, count(*) AS n FROM {entry}
                       GROUP BY resident_id, kind) s ON s.resident_id = b.resident_id AND s.kind = b.kind
            WHERE coalesce(b.points, 0) <> coalesce(s.points, 0) OR coalesce(b.entries, 0) <> coalesce(s.n, 0)
            LIMIT %s""", [limit])  # noqa: S608 - table names from _meta
        return [tuple(r) for r in cursor.fetchall()]
