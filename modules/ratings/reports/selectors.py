"""The figures of the ratings module: a subject's score with its explanation, rankings and trends.

Every figure reads ``Tally`` (the monthly sums of counted ratings per subject, department, grid,
channel and dimension), never the ratings themselves; only a score's explanation (how many were held
out, rejected, removed on appeal or replaced, and why) counts the subject's own ratings of the period,
through the (official|merchant, created_at) indexes.

Periods are whole months of the district's time zone: ``start`` and ``end`` are dates, the figures run
from the first day of ``start``'s month through the last day of ``end``'s month (``Tally.month`` is the
first day of a month). Each figure is defined once here; the pages, the API and the Excel export read
these functions (docs/charts.md).

Ranking (``ranking``): by average, higher first; equal averages by the share of bad ratings, lower first;
the same average and bad share share a rank (1, 2, 2, 4). A subject with fewer counted ratings than the
district's ``min_ratings_for_ranking`` is listed with its count and no rank."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kernel.errors import DomainError
from modules.ratings.config import dimensions, settings
from modules.ratings.ledger.models import Rating, State, SubjectKind, Tally

UNITS = ("official", "department", "street", "grid", "merchant")
UNIT_LABELS = {"official": gettext_lazy("officials"), "department": gettext_lazy("departments"),
               "street": gettext_lazy("streets"), "grid": gettext_lazy("grids"),
               "merchant": gettext_lazy("merchants")}
PERIOD_KINDS = ("month", "quarter", "year", "custom")
# The anti-gaming rules' keys (integrity) as a person reads them; an unknown key shows as itself.
HOLD_RULES = {
    "burst": gettext_lazy("many ratings of one subject in a short time"),
    "same_household": gettext_lazy("many raters from one household"),
    "household": gettext_lazy("many raters from one household"),
    "same_device": gettext_lazy("many raters from one device"),
    "device": gettext_lazy("many raters from one device"),
    "same_network": gettext_lazy("many raters from one network"),
    "network": gettext_lazy("many raters from one network"),
    "colleague": gettext_lazy("rated by a colleague of the same department"),
    "family": gettext_lazy("rated by a member of the same household"),
    "swing": gettext_lazy("a sudden swing against the subject's history"),
}
TWO = Decimal("0.01")
FOUR = Decimal("0.0001")


# --- periods ------------------------------------------------------------------------------------------

def month_start(d: dt.date) -> dt.date:
    return d.replace(day=1)


def add_months(month: dt.date, n: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


def months_between(start: dt.date, end: dt.date) -> list[dt.date]:
    """The first days of the months from ``start``'s through ``end``'s."""
    first, last = month_start(start), month_start(end)
    out = []
    while first <= last:
        out.append(first)
        first = add_months(first, 1)
    return out


def bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[from, to) of the whole months ``start``..``end`` as aware datetimes of the district's zone."""
    tz = timezone.get_current_timezone()
    first = month_start(start)
    after = add_months(month_start(end), 1)
    return (timezone.make_aware(dt.datetime(first.year, first.month, 1), tz),
            timezone.make_aware(dt.datetime(after.year, after.month, 1), tz))


@dataclass(frozen=True)
class Period:
    kind: str  # month | quarter | year | custom
    start: dt.date  # first day of the first month
    end: dt.date  # first day of the last month
    label: str

    @property
    def last_day(self) -> dt.date:
        return add_months(self.end, 1) - dt.timedelta(days=1)

    def query(self) -> str:
        return f"start={self.start:%Y-%m}&end={self.end:%Y-%m}"


_MONTH = re.compile(r"^(\d{4})-(\d{1,2})(?:-(\d{1,2}))?$")
_QUARTER = re.compile(r"^(\d{4})-?Q([1-4])$", re.IGNORECASE)


def parse_month(text: str, name: str) -> dt.date:
    """A month (2026-12) or a date (2026-12-07) as the first day of its month; 400 naming ``name``."""
    m = _MONTH.match((text or "").strip())
    try:
        if not m:
            raise ValueError
        return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3) or 1)).replace(day=1)
    except ValueError:
        message = _("Give a month as 2026-12 (or a date as 2026-12-07).")
        raise DomainError(message, code="bad_period", fields={name: [message]}) from None


def period_from(params, *, today: dt.date | None = None, default: str = "year") -> Period:
    """The period a page or API request asks for: ``period`` = month (``month``=2026-12), quarter
    (``quarter``=2026-Q4), year (``year``=2026) or custom (``start``/``end`` months or dates); with
    only ``start``/``end``, custom. Default: the current year (or month)."""
    today = today or timezone.localdate()
    kind = (params.get("period") or "").strip()
    if not kind:
        kind = "custom" if params.get("start") or params.get("end") else default
    if kind not in PERIOD_KINDS:
        message = _("Choose month, quarter, year or custom.")
        raise DomainError(message, code="bad_period", fields={"period": [message]})
    if kind == "month":
        month = parse_month(params.get("month") or f"{today:%Y-%m}", "month")
        return Period("month", month, month, f"{month:%Y-%m}")
    if kind == "quarter":
        text = (params.get("quarter") or f"{today.year}-Q{(today.month - 1) // 3 + 1}").strip()
        m = _QUARTER.match(text)
        if not m:
            message = _("Give a quarter as 2026-Q4.")
            raise DomainError(message, code="bad_period", fields={"quarter": [message]})
        first = dt.date(int(m.group(1)), 3 * int(m.group(2)) - 2, 1)
        return Period("quarter", first, add_months(first, 2), f"{first.year}-Q{m.group(2)}")
    if kind == "year":
        text = (params.get("year") or str(today.year)).strip()
        if not re.fullmatch(r"\d{4}", text):
            message = _("Give a year as 2026.")
            raise DomainError(message, code="bad_period", fields={"year": [message]})
        year = int(text)
        return Period("year", dt.date(year, 1, 1), dt.date(year, 12, 1), str(year))
    start = parse_month(params.get("start") or f"{today:%Y}-01", "start")
    end = parse_month(params.get("end") or f"{today:%Y-%m}", "end")
    if end < start:
        message = _("The end comes before the start.")
        raise DomainError(message, code="bad_period", fields={"end": [message]})
    if len(months_between(start, end)) > 120:
        message = _("A period is at most ten years.")
        raise DomainError(message, code="bad_period", fields={"start": [message]})
    label = f"{start:%Y-%m}" if start == end else f"{start:%Y-%m} – {end:%Y-%m}"
    return Period("custom", start, end, label)


# --- figures --------------------------------------------------------------------------------------------

def _average(n: int, total: int) -> Decimal | None:
    return (Decimal(total) / Decimal(n)).quantize(TWO, ROUND_HALF_UP) if n else None


def _share(n: int, bad: int) -> Decimal | None:
    return (Decimal(bad) / Decimal(n)).quantize(FOUR, ROUND_HALF_UP) if n else None


class Sums:
    """What every figure derives from its counts ``n``, ``total`` (of the levels) and ``bad``."""

    @property
    def average(self) -> Decimal | None:
        return _average(self.n, self.total)

    @property
    def bad_share(self) -> Decimal | None:
        return _share(self.n, self.bad)


@dataclass
class Figure(Sums):
    """n counted ratings, their average level (2 decimals) and how many / what share were bad."""
    key: str
    name: str
    n: int = 0
    total: int = 0
    bad: int = 0


def dimension_name(dim: dict) -> str:
    from django.utils.translation import get_language

    english = (get_language() or "").startswith("en")
    return (dim.get("name_en") if english else "") or dim.get("name_zh") or dim["key"]


def dimension_choices(kind: str | None = None) -> list[tuple[str, str]]:
    """("", overall) and the district's dimensions of ``kind`` (both kinds when None)."""
    kinds = [kind] if kind in ("official", "merchant") else ["official", "merchant"]
    out = [("", _("Overall"))]
    for k in kinds:
        out += [(d["key"], dimension_name(d)) for d in dimensions(k)]
    return out


def hold_rule_label(rule: str) -> str:
    label = HOLD_RULES.get(rule)
    return str(label) if label else rule


@dataclass
class Explanation:
    """What the score leaves out, for the subject and period, and why."""
    counted: int = 0
    held: int = 0
    rejected: int = 0
    removed: int = 0
    superseded: int = 0
    hold_rules: list[dict] = field(default_factory=list)  # [{rule, label, held, rejected}]

    @property
    def left_out(self) -> int:
        return self.held + self.rejected + self.removed + self.superseded


@dataclass
class Score:
    subject_kind: str
    subject_id: int
    subject_name: str
    start: dt.date
    end: dt.date
    overall: Figure
    dimensions: list[Figure]
    explanation: Explanation
    min_ratings: int

    @property
    def enough(self) -> bool:
        return self.overall.n >= self.min_ratings


def _subject_filter(official, merchant) -> tuple[str, Q, object]:
    if (official is None) == (merchant is None):
        raise ValueError("score_of takes an official or a merchant")
    if official is not None:
        return SubjectKind.OFFICIAL, Q(official_id=getattr(official, "pk", official)), official
    return SubjectKind.MERCHANT, Q(merchant_id=getattr(merchant, "pk", merchant)), merchant


def explanation_of(*, subject_q: Q, start: dt.date, end: dt.date) -> Explanation:
    """Ratings of the subject made in the period, by state; held and rejected ones by the rule that
    held them."""
    since, until = bounds(start, end)
    ratings = Rating.objects.filter(subject_q, created_at__gte=since, created_at__lt=until)
    out = Explanation()
    for state, n in ratings.values_list("state").annotate(n=Count("id")).order_by():
        setattr(out, str(state), n)
    rules: dict[str, dict] = {}
    for state, reasons in ratings.filter(state__in=[State.HELD, State.REJECTED]).values_list("state", "hold_reasons"):
        for rule in sorted({str((r or {}).get("rule") or "") for r in (reasons or [])} - {""}) or ["?"]:
            row = rules.setdefault(rule, {"rule": rule, "label": hold_rule_label(rule), "held": 0, "rejected": 0})
            row[str(state)] += 1
    out.hold_rules = sorted(rules.values(), key=lambda r: (-(r["held"] + r["rejected"]), r["rule"]))
    return out


def score_of(*, official=None, merchant=None, start: dt.date, end: dt.date, channel: str | None = None) -> Score:
    """The subject's figures over the months ``start``..``end``: overall and per dimension (n, average,
    bad share), and the explanation (what was left out and why)."""
    kind, subject_q, subject = _subject_filter(official, merchant)
    first, last = month_start(start), month_start(end)
    rows = Tally.objects.filter(subject_q, subject_kind=kind, month__gte=first, month__lte=last)
    if channel:
        rows = rows.filter(channel=channel)
    sums = {dim: (n or 0, total or 0, bad or 0) for dim, n, total, bad in rows.values_list("dimension").annotate(
        Sum("n"), Sum("total"), Sum("bad")).order_by()}
    overall = Figure("", _("Overall"), *sums.get("", (0, 0, 0)))
    dims = [Figure(d["key"], dimension_name(d), *sums.get(d["key"], (0, 0, 0))) for d in dimensions(kind)]
    known = {d.key for d in dims} | {""}
    dims += [Figure(key, key, *v) for key, v in sorted(sums.items()) if key not in known]  # a dimension since dropped
    if not hasattr(subject, "name"):
        from modules.registry.models import Merchant, Official

        subject = (Official if kind == SubjectKind.OFFICIAL else Merchant).objects.get(pk=subject)
    return Score(kind, subject.pk, subject.name, first, last, overall, dims,
                 explanation_of(subject_q=subject_q, start=first, end=last),
                 int(settings()["min_ratings_for_ranking"]))


# --- rankings ---------------------------------------------------------------------------------------------

@dataclass
class RankRow(Sums):
    id: int
    name: str
    detail: str  # the department of an official, the community of a grid, …
    n: int
    total: int
    bad: int
    rank: int | None = None


@dataclass
class Ranking:
    unit: str
    dimension: str
    start: dt.date
    end: dt.date
    min_ratings: int
    rows: list[RankRow]  # ranked first (by rank), then the unranked by count

    @property
    def ranked(self) -> list[RankRow]:
        return [r for r in self.rows if r.rank is not None]

    @property
    def unranked(self) -> list[RankRow]:
        return [r for r in self.rows if r.rank is None]


def entities(unit: str, department=None) -> dict[int, tuple[str, str]]:
    """id -> (name, detail) of the unit's entities that a ranking lists even with no rating."""
    from modules.registry.models import Department, Grid, Merchant, Official, Street

    if unit == "official":
        qs = Official.objects.filter(active=True)
        if department is not None:
            qs = qs.filter(department_id=getattr(department, "pk", department))
        return {pk: (name, dep) for pk, name, dep in qs.values_list("pk", "name", "department__name")}
    if unit == "merchant":
        return {pk: (name, grid or "") for pk, name, grid in
                Merchant.objects.filter(active=True).values_list("pk", "name", "grid__name")}
    if unit == "department":
        return {pk: (name, "") for pk, name in Department.objects.values_list("pk", "name")}
    if unit == "grid":
        return {pk: (name, community) for pk, name, community in
                Grid.objects.values_list("pk", "name", "community__name")}
    return {pk: (name, "") for pk, name in Street.objects.values_list("pk", "name")}


def _missing_names(unit: str, ids: set[int]) -> dict[int, tuple[str, str]]:
    """Names of entities with ratings that ``_entities`` left out (an inactive official, merchant)."""
    from modules.registry.models import Merchant, Official

    if not ids or unit not in ("official", "merchant"):
        return {pk: (f"#{pk}", "") for pk in ids}
    if unit == "official":
        return {pk: (name, dep) for pk, name, dep in
                Official.objects.filter(pk__in=ids).values_list("pk", "name", "department__name")}
    return {pk: (name, grid or "") for pk, name, grid in
            Merchant.objects.filter(pk__in=ids).values_list("pk", "name", "grid__name")}


_GROUP = {"official": "official_id", "merchant": "merchant_id", "department": "department_id", "grid": "grid_id",
          "street": "grid__community__street_id"}


def ranking(*, unit: str, dimension: str = "", start: dt.date, end: dt.date, channel: str | None = None,
            department=None) -> Ranking:
    """All subjects of ``unit`` (official | department | street | grid | merchant) over the months
    ``start``..``end`` on ``dimension`` ("" overall): ranked rows, then the unranked (too few ratings).
    Officials, departments: their ratings; grids: every rating with a grid (an official's case rating
    counts for its grid, a merchant's for the merchant's grid); streets: their grids'. ``department``
    (officials): only the ratings that counted for it, and its people."""
    if unit not in UNITS:
        raise DomainError(_("Choose a unit: official, department, street, grid or merchant."), code="bad_unit",
                          fields={"unit": [_("Not a unit.")]})
    group = _GROUP[unit]
    rows = Tally.objects.filter(month__gte=month_start(start), month__lte=month_start(end), dimension=dimension)
    if unit == "official":
        rows = rows.filter(subject_kind=SubjectKind.OFFICIAL)
    elif unit == "merchant":
        rows = rows.filter(subject_kind=SubjectKind.MERCHANT)
    else:
        rows = rows.filter(**{f"{group}__isnull": False})
    if department is not None:
        rows = rows.filter(department_id=getattr(department, "pk", department))
    if channel:
        rows = rows.filter(channel=channel)
    sums = {pk: (n, total, bad) for pk, n, total, bad in rows.values(key=F(group)).annotate(
        sn=Sum("n"), st=Sum("total"), sb=Sum("bad")).values_list("key", "sn", "st", "sb").order_by()}
    names = entities(unit, department)
    names.update(_missing_names(unit, set(sums) - set(names)))
    minimum = int(settings()["min_ratings_for_ranking"])
    out = [RankRow(pk, name, detail, *sums.get(pk, (0, 0, 0))) for pk, (name, detail) in names.items()]
    # Every entity is listed, with 0 when it has no rating in the period: nobody is silently missing.
    # Floats of total/n: the correctly rounded quotient of two exact integers, so equal averages give
    # equal keys (ties) and different ones (n far below 2**26) different keys.
    ranked = sorted((r for r in out if r.n >= minimum and r.n > 0),
                    key=lambda r: (-(r.total / r.n), r.bad / r.n, -r.n, r.name, r.id))
    previous, rank = None, 0
    for position, r in enumerate(ranked, start=1):
        key = (r.total / r.n, r.bad / r.n)
        if key != previous:
            rank, previous = position, key
        r.rank = rank
    unranked = sorted((r for r in out if r.rank is None), key=lambda r: (-r.n, r.name, r.id))
    return Ranking(unit, dimension, month_start(start), month_start(end), minimum, ranked + unranked)


# --- trends -------------------------------------------------------------------------------------------------

@dataclass
class Point(Sums):
    month: dt.date
    n: int
    total: int
    bad: int


def trend(*, unit: str, id: int | None, dimension: str = "", months: int = 12, end: dt.date | None = None,  # noqa: A002
          channel: str | None = None) -> list[Point]:
    """The monthly series of ``unit`` ``id`` (unit "district" and id None: everything) on ``dimension``,
    the ``months`` months through ``end``'s month (default this month), oldest first; a month with no
    rating has n 0 and no average."""
    last = month_start(end or timezone.localdate())
    first = add_months(last, -(max(1, min(int(months), 120)) - 1))
    rows = Tally.objects.filter(month__gte=first, month__lte=last, dimension=dimension)
    if unit == "official":
        rows = rows.filter(subject_kind=SubjectKind.OFFICIAL, official_id=id)
    elif unit == "merchant":
        rows = rows.filter(subject_kind=SubjectKind.MERCHANT, merchant_id=id)
    elif unit in ("department", "grid", "street"):
        rows = rows.filter(**{_GROUP[unit]: id})
    elif unit != "district":
        raise DomainError(_("Choose a unit: official, department, street, grid or merchant."), code="bad_unit",
                          fields={"unit": [_("Not a unit.")]})
    if channel:
        rows = rows.filter(channel=channel)
    sums = {m: (n, t, b) for m, n, t, b in rows.values_list("month").annotate(
        Sum("n"), Sum("total"), Sum("bad")).order_by()}
    return [Point(m, *sums.get(m, (0, 0, 0))) for m in months_between(first, last)]


def unit_name(unit: str, pk) -> str:
    from modules.registry.models import Department, Grid, Merchant, Official, Street

    model = {"official": Official, "merchant": Merchant, "department": Department, "grid": Grid,
             "street": Street}.get(unit)
    if model is None or pk in (None, ""):
        return _("the whole district")
    found = model.objects.filter(pk=pk).values_list("name", flat=True).first()
    if found is None:
        raise DomainError(_("There is no such subject."), code="unknown_subject", status=404,
                          fields={"id": [_("Not found.")]})
    return found


# --- star merchants ---------------------------------------------------------------------------------------

def merchant_year_figures(year: int) -> dict[int, tuple[int, int, int]]:
    """merchant id -> (n, total, bad) of the counted overall ratings of the year."""
    rows = Tally.objects.filter(subject_kind=SubjectKind.MERCHANT, dimension="", month__gte=dt.date(year, 1, 1),
                                month__lte=dt.date(year, 12, 1))
    return {pk: (n, t, b) for pk, n, t, b in rows.values_list("merchant_id").annotate(
        Sum("n"), Sum("total"), Sum("bad")).order_by()}


def star_awards(*, year: int | None = None, include_revoked: bool = True):
    from modules.ratings.reports.models import StarAward

    qs = StarAward.objects.select_related("merchant", "merchant__grid")
    if year is not None:
        qs = qs.filter(year=year)
    if not include_revoked:
        qs = qs.filter(revoked_at__isnull=True)
    return qs.order_by("-year", "-stars", "-average", "merchant__name")


def year_awarded(year: int) -> bool:
    """Whether the year's stars have been awarded once (by the task or by hand): the audit says."""
    from kernel.models import AuditEntry

    return AuditEntry.objects.filter(action="ratings.stars.award", target_type="ratings.staraward",
                                     target_id=str(year)).exists()
