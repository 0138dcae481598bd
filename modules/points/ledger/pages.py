"""Reads of the resident's points pages: the balance card (balances, honour tier and the way to the
next one), a page of history with everything a resident needs to understand an entry (rule, reason,
source, who approved, reversals, whether it can still be appealed), and the resident's appeals.

Each page is a fixed number of queries whatever its length: the balance rows, the page of entries
(rule version, poster and approver joined, the reversing entry as a subquery on the partial unique
index of ``reverses``), then the appeals, batch titles and case references of that page's entries."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.apps import apps
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone

from modules.points.committee.appeals import appeal_refusal
from modules.points.ledger import selectors
from modules.points.ledger.services import config
from modules.points.models import Appeal, Balance, BalanceKind, Batch, Entry, SourceKind
from modules.registry.models import Resident

PAGE_SIZE = 20


# --- the balance card ----------------------------------------------------------------------------------

@dataclass
class Overview:
    civic: int
    material: int | None  # None: the district keeps no material balance
    entries: int  # number of entries of every kind (from the balance rows, no count over the ledger)
    tier: dict | None
    next_tier: dict | None
    to_next: int  # points still needed for the next tier (0 at the top)
    percent: int  # progress from the current tier's threshold (or 0) to the next one's


def overview(resident: Resident | int) -> Overview:
    """Balances and honour tier — one query (the resident's balance rows)."""
    resident_id = getattr(resident, "pk", resident)
    rows = list(Balance.objects.filter(resident_id=resident_id).values_list("kind", "points", "entries"))
    points = {k: p for k, p, _n in rows}
    civic = points.get(BalanceKind.CIVIC, 0)
    material = None
    if config().get("material_points") or points.get(BalanceKind.MATERIAL):
        material = points.get(BalanceKind.MATERIAL, 0)
    tier, ahead = selectors.tier_for(civic), selectors.next_tier(civic)
    to_next, percent = 0, 100
    if ahead is not None:
        base = tier["min_points"] if tier else 0
        span = max(1, ahead["min_points"] - base)
        to_next = ahead["min_points"] - civic
        percent = max(0, min(100, int(100 * (civic - base) / span)))
    return Overview(civic, material, sum(n for _k, _p, n in rows), tier, ahead, to_next, percent)


# --- appeal window --------------------------------------------------------------------------------------

def appeal_days() -> int:
    return int(config().get("appeal_days", 30))


def appeal_deadline(posted_at: dt.datetime, days: int | None = None) -> dt.datetime:
    return posted_at + dt.timedelta(days=appeal_days() if days is None else days)


# --- history --------------------------------------------------------------------------------------------

@dataclass
class HistoryPage:
    number: int
    num_pages: int
    total: int
    rows: list[dict] = field(default_factory=list)

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.num_pages

    @property
    def has_other_pages(self) -> bool:
        return self.num_pages > 1

    @property
    def previous_page_number(self) -> int:
        return self.number - 1

    @property
    def next_page_number(self) -> int:
        return self.number + 1


def page_number(raw, num_pages: int) -> int:
    """The ?page= asked for, kept between 1 and the last page (junk: the first)."""
    try:
        number = int(str(raw or "1").strip())
    except ValueError:
        number = 1
    return max(1, min(num_pages, number))


ENTRY_FIELDS = (
    "id", "posted_at", "occurred_on", "kind", "points", "reason", "evidence", "source_kind", "source_id",
    "rule__code", "rule_version__name_zh", "rule_version__name_en", "rule_version__version",
    "posted_by__display_name", "posted_by__username", "approved_by__display_name", "approved_by__username",
    "reverses_id", "reverses__occurred_on", "reverses__posted_at", "reversal_id", "reversal_at",
)


def _person(display_name, username) -> str:
    return display_name or username or ""


def case_refs(case_ids) -> dict[int, tuple[str, int | None]]:
    """Reference numbers (and reporters) of the cases some entries came from. Read by name through the
    app registry (no import of the cases module); empty where the cases app is not installed."""
    ids = sorted({int(i) for i in case_ids if i})
    if not ids:
        return {}
    try:
        case = apps.get_model("cases", "Case")
    except LookupError:
        return {}
    return {pk: (ref, reporter) for pk, ref, reporter in
            case.objects.filter(pk__in=ids).values_list("pk", "ref", "reporter_id")}


def history_page(resident: Resident | int, *, page=1, total: int | None = None, size: int = PAGE_SIZE,
                 now: dt.datetime | None = None) -> HistoryPage:
    """One page of the resident's history, newest first, each row with its rule, signed points,
    reason, source (batch title, case reference, committee…), who posted and approved it, its
    reversal marks, its latest appeal and whether it may be appealed now. ``total`` is the number of
    entries (from ``overview``) so no count runs over the ledger."""
    resident_id = getattr(resident, "pk", resident)
    if total is None:
        total = overview(resident_id).entries
    num_pages = max(1, -(-total // size))
    number = page_number(page, num_pages)
    reversal = Entry.objects.filter(reverses_id=OuterRef("pk"))
    qs = (Entry.objects.filter(resident_id=resident_id).order_by("-id")
          .annotate(reversal_id=Subquery(reversal.values("id")[:1]),
                    reversal_at=Subquery(reversal.values("posted_at")[:1]))
          .values(*ENTRY_FIELDS))
    offset = (number - 1) * size
    rows = list(qs[offset:offset + size]) if total > offset else []
    ids = [r["id"] for r in rows]

    latest: dict[int, Appeal] = {}
    pending: set[int] = set()
    for appeal in Appeal.objects.filter(entry_id__in=ids).order_by("entry_id", "-filed_at", "-id"):
        latest.setdefault(appeal.entry_id, appeal)
        if appeal.status == Appeal.Status.PENDING:
            pending.add(appeal.entry_id)
    batch_ids = {r["source_id"] for r in rows if r["source_kind"] == SourceKind.BATCH and r["source_id"]}
    batches = dict(Batch.objects.filter(pk__in=batch_ids).values_list("pk", "title")) if batch_ids else {}
    cases = case_refs(r["source_id"] for r in rows if r["source_kind"] == SourceKind.CASE)

    now = now or timezone.now()
    days = appeal_days()
    out = []
    for r in rows:
        source_id = r["source_id"]
        row = {
            "id": r["id"], "posted_at": r["posted_at"], "occurred_on": r["occurred_on"], "kind": r["kind"],
            "points": r["points"], "reason": r["reason"], "evidence": r["evidence"], "rule": r["rule__code"],
            "rule_name_zh": r["rule_version__name_zh"], "rule_name_en": r["rule_version__name_en"],
            "rule_version": r["rule_version__version"], "source_kind": r["source_kind"], "source_id": source_id,
            "posted_by": _person(r["posted_by__display_name"], r["posted_by__username"]),
            "approved_by": _person(r["approved_by__display_name"], r["approved_by__username"]),
            "reverses": r["reverses_id"], "reverses_occurred_on": r["reverses__occurred_on"],
            "reverses_posted_at": r["reverses__posted_at"],
            "reversed_by": r["reversal_id"], "reversed_at": r["reversal_at"],
            "batch_title": batches.get(source_id, "") if r["source_kind"] == SourceKind.BATCH else "",
            "case_ref": "", "case_reporter": None,
            "appeal": latest.get(r["id"]),
            "appeal_until": appeal_deadline(r["posted_at"], days),
        }
        if r["source_kind"] == SourceKind.CASE and source_id in cases:
            row["case_ref"], row["case_reporter"] = cases[source_id]
        refusal = appeal_refusal(reverses_id=r["reverses_id"], reversed_=bool(r["reversal_id"]),
                                 posted_at=r["posted_at"], pending=r["id"] in pending, days=days, now=now)
        row["appeal_blocker"] = refusal.code if refusal else ""
        out.append(row)
    return HistoryPage(number, num_pages, total, out)


# --- one entry, the resident's appeals -----------------------------------------------------------------

def own_entry(resident: Resident | int, entry_id: int) -> Entry | None:
    """The entry if it belongs to the resident (None otherwise: someone else's looks like none)."""
    resident_id = getattr(resident, "pk", resident)
    if not 0 < entry_id < 2**63:
        return None
    return (Entry.objects.filter(pk=entry_id, resident_id=resident_id)
            .select_related("rule_version", "posted_by", "approved_by").first())


def entry_appeal_state(entry: Entry, *, now: dt.datetime | None = None) -> dict:
    """Whether this entry may be appealed now, until when, and its appeals so far (newest first)."""
    days = appeal_days()
    appeals = list(Appeal.objects.filter(entry=entry).order_by("-filed_at", "-id"))
    refusal = appeal_refusal(
        reverses_id=entry.reverses_id, reversed_=Entry.objects.filter(reverses=entry).exists(),
        posted_at=entry.posted_at, pending=any(a.status == Appeal.Status.PENDING for a in appeals), days=days,
        now=now or timezone.now())
    return {"blocker": refusal.code if refusal else "", "blocker_text": refusal.message if refusal else "",
            "until": appeal_deadline(entry.posted_at, days), "days": days, "appeals": appeals}


def appeals_of(resident: Resident | int) -> QuerySet:
    """The resident's appeals, newest first, with the entry and its rule version."""
    resident_id = getattr(resident, "pk", resident)
    return (Appeal.objects.filter(resident_id=resident_id)
            .select_related("entry__rule_version", "reversal").order_by("-filed_at", "-id"))
