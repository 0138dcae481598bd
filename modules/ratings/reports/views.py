"""Portal pages of ratings.reports (under /ratings/, namespace ``ratings``):

- ``me/official/``: the signed-in official's scores by dimension and period, what was left out and why,
  a monthly trend, their ratings' comments (no rater shown), follow-ups and appeals;
- ``department/``: a department head's people, ranked within the department;
- ``me/merchant/``: the merchant owner's scores, ratings, comments and replies;
- ``staff/rankings/`` (+ ``staff/rankings/export/``, Excel), ``staff/trends/``, ``staff/stars/``: staff;
- ``stars/<token>/``: the public certificate of a star merchant.

The figures come from ``reports.selectors``; the charts from ``portal.charts`` (docs/charts.md)."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from kernel.errors import DomainError
from kernel.permissions import has_role, role_required
from kernel.roles import STAFF_ROLES, Role
from modules.ratings.ledger.models import Channel
from modules.ratings.reports import exports, people, services
from modules.ratings.reports import selectors as sel
from modules.ratings.reports.models import StarAward
from portal.charts import chart

TOP_IN_CHART = 20


def _period(request):
    try:
        return sel.period_from(request.GET), None
    except DomainError as exc:
        return sel.period_from({}), exc.message


PERIOD_KEYS = ("period", "month", "quarter", "year", "start", "end")


def _periods_context(request, period) -> dict:
    """The period's fields for the templates, and ``keep``: the page's other filters for the quick links."""
    today = timezone.localdate()
    rest = request.GET.copy()
    for key in PERIOD_KEYS:
        rest.pop(key, None)
    keep = rest.urlencode()
    return {"keep": f"{keep}&" if keep else "", "period": period, "period_kind": period.kind, "this_year": today.year,
            "month_value": f"{period.start:%Y-%m}", "end_value": f"{period.end:%Y-%m}",
            "quarter_value": f"{period.start.year}-Q{(period.start.month - 1) // 3 + 1}",
            "year_value": period.start.year}


def _score_chart(score, chart_id: str) -> dict:
    figures = [f for f in score.dimensions if f.n] or score.dimensions
    return chart(id=chart_id, kind="bar", title=_("Average by dimension"), horizontal=True,
                 categories=[_("Overall"), *[f.name for f in figures]],
                 series=[{"name": _("Average"), "data": [score.overall.average, *[f.average for f in figures]]}],
                 minimum=0, maximum=5)


def _trend_chart(points, chart_id: str, title: str) -> dict:
    return chart(id=chart_id, kind="line", title=title, categories=[f"{p.month:%Y-%m}" for p in points],
                 series=[{"name": _("Average"), "data": [p.average for p in points]}], minimum=1, maximum=5)


def _ranking_chart(ranking, chart_id: str, title: str) -> dict:
    top = ranking.ranked[:TOP_IN_CHART]
    return chart(id=chart_id, kind="bar", title=title, horizontal=True,
                 categories=[f"{r.rank}. {r.name}" for r in top],
                 series=[{"name": _("Average"), "data": [r.average for r in top]}], minimum=0, maximum=5)


def _subject_page(request, *, official=None, merchant=None) -> dict:
    period, problem = _period(request)
    score = sel.score_of(official=official, merchant=merchant, start=period.start, end=period.end)
    unit, pk = ("official", official.pk) if official is not None else ("merchant", merchant.pk)
    points = sel.trend(unit=unit, id=pk, dimension="", months=12, end=period.end)
    since, until = sel.bounds(period.start, period.end)
    return {**_periods_context(request, period), "problem": problem, "score": score,
            "score_chart": _score_chart(score, "score-chart"),
            "trend_chart": _trend_chart(points, "trend-chart", _("Monthly average, last 12 months")),
            "points": points,
            "ratings": people.ratings_of(official=official, merchant=merchant, since=since, until=until),
            "follow_ups": people.follow_ups_of(official=official, merchant=merchant),
            "appeals": people.appeals_of(official=official, merchant=merchant)}


@login_required
@never_cache
@require_safe
def my_official(request):
    official = people.official_of(request.user)
    if official is None:
        return render(request, "ratings/reports/my_official.html", {"no_subject": True})
    return render(request, "ratings/reports/my_official.html", {
        "official": official, **_subject_page(request, official=official)})


@login_required
@never_cache
@require_safe
def my_merchant(request):
    merchants = list(people.merchants_of(request.user))
    if not merchants:
        return render(request, "ratings/reports/my_merchant.html", {"no_subject": True})
    chosen = next((m for m in merchants if str(m.pk) == request.GET.get("merchant")), merchants[0])
    return render(request, "ratings/reports/my_merchant.html", {
        "merchant": chosen, "merchants": merchants, **_subject_page(request, merchant=chosen)})


@login_required
@never_cache
@require_safe
def department(request):
    departments = list(people.headed_departments(request.user))
    if not departments:
        raise PermissionDenied
    chosen = next((d for d in departments if d.code == request.GET.get("department")), departments[0])
    period, problem = _period(request)
    dimension = request.GET.get("dimension", "")
    if dimension not in dict(sel.dimension_choices("official")):
        dimension = ""
    ranking = sel.ranking(unit="official", dimension=dimension, start=period.start, end=period.end,
                          department=chosen)
    return render(request, "ratings/reports/department.html", {
        **_periods_context(request, period), "problem": problem, "departments": departments, "chosen": chosen,
        "dimension": dimension, "dimensions": sel.dimension_choices("official"), "ranking": ranking,
        "chart": _ranking_chart(ranking, "department-chart", chosen.name)})


def _ranking_request(request):
    unit = request.GET.get("unit") or "official"
    if unit not in sel.UNITS:
        unit = "official"
    kind = unit if unit in ("official", "merchant") else None
    dims = dict(sel.dimension_choices(kind))
    dimension = request.GET.get("dimension", "")
    if dimension not in dims:
        dimension = ""
    channel = request.GET.get("channel") or ""
    if channel not in Channel.values:
        channel = ""
    return unit, dimension, dims, channel


@role_required(*STAFF_ROLES)
@never_cache
@require_safe
def rankings(request):
    period, problem = _period(request)
    unit, dimension, dims, channel = _ranking_request(request)
    ranking = sel.ranking(unit=unit, dimension=dimension, start=period.start, end=period.end, channel=channel or None)
    title = f"{sel.UNIT_LABELS[unit]} · {dims[dimension]} · {period.label}"
    return render(request, "ratings/reports/rankings.html", {
        **_periods_context(request, period), "problem": problem, "unit": unit, "units": list(sel.UNIT_LABELS.items()),
        "dimension": dimension, "dimensions": list(dims.items()), "channel": channel, "channels": Channel.choices,
        "ranking": ranking, "chart": _ranking_chart(ranking, "ranking-chart", title), "top": TOP_IN_CHART,
        "query": request.GET.urlencode()})


@role_required(*STAFF_ROLES)
@never_cache
@require_safe
def export(request):
    period, problem = _period(request)
    if problem:
        return HttpResponse(problem, status=400, content_type="text/plain; charset=utf-8")
    unit, dimension, dims, channel = _ranking_request(request)
    ranking = sel.ranking(unit=unit, dimension=dimension, start=period.start, end=period.end, channel=channel or None)
    data = exports.ranking_workbook(ranking, unit_label=str(sel.UNIT_LABELS[unit]), dimension_label=str(dims[dimension]),
                                    channel_label=str(dict(Channel.choices).get(channel, "")))
    response = HttpResponse(data, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="{exports.file_name(ranking, unit)}"'
    return response


@role_required(*STAFF_ROLES)
@never_cache
@require_safe
def trends(request):
    unit = request.GET.get("unit") or "district"
    if unit not in (*sel.UNITS, "district"):
        unit = "district"
    kind = unit if unit in ("official", "merchant") else None
    dims = dict(sel.dimension_choices(kind))
    dimension = request.GET.get("dimension", "")
    if dimension not in dims:
        dimension = ""
    try:
        months = max(3, min(int(request.GET.get("months") or 12), 36))
    except ValueError:
        months = 12
    entities = sorted(sel.entities(unit).items(), key=lambda kv: kv[1][0]) if unit != "district" else []
    pk = request.GET.get("id") or ""
    if unit != "district" and not any(str(k) == pk for k, _v in entities):
        pk = str(entities[0][0]) if entities else ""
    name = sel.unit_name(unit, pk or None) if unit != "district" else _("the whole district")
    points = sel.trend(unit=unit, id=int(pk) if pk else None, dimension=dimension, months=months)
    return render(request, "ratings/reports/trends.html", {
        "unit": unit, "units": [("district", _("the whole district")), *sel.UNIT_LABELS.items()],
        "entities": entities, "id": pk, "name": name, "dimension": dimension, "dimensions": list(dims.items()),
        "months": months, "month_choices": [3, 6, 12, 24, 36], "points": points,
        "chart": _trend_chart(points, "trend-chart", f"{name} · {dims[dimension]}")})


@role_required(*STAFF_ROLES)
@never_cache
@require_http_methods(["GET", "POST"])
def stars(request):
    today = timezone.localdate()
    try:
        year = int(request.GET.get("year") or request.POST.get("year") or today.year - 1)
    except ValueError:
        year = today.year - 1
    is_admin = has_role(request.user, Role.DISTRICT_ADMIN)
    if request.method == "POST":
        try:
            if request.POST.get("action") == "revoke":
                raw = request.POST.get("award") or ""
                award = get_object_or_404(StarAward, pk=int(raw) if raw.isdigit() else 0)
                services.revoke_star(actor=request.user, award=award, reason=request.POST.get("reason", ""))
                messages.success(request, _("The award is revoked; its certificate says so."))
            else:
                made = services.award_stars(actor=request.user, year=year)
                messages.success(request, _("%(n)d merchants awarded for %(year)d.") % {"n": len(made), "year": year})
        except DomainError as exc:
            messages.error(request, exc.message)
        return redirect(f"{request.path}?year={year}")
    from modules.ratings.config import settings

    return render(request, "ratings/reports/stars.html", {
        "year": year, "years": list(range(today.year, today.year - 6, -1)), "awards": list(sel.star_awards(year=year)),
        "is_admin": is_admin, "rules": settings()["stars"], "awarded_once": sel.year_awarded(year)})


@never_cache
@require_safe
def certificate(request, token: str):
    award = StarAward.objects.select_related("merchant", "merchant__grid").filter(token=token).first()
    if award is None:
        raise Http404(_("There is no certificate at this address."))
    return render(request, "ratings/reports/certificate.html", {
        "award": award, "star_range": range(award.stars), "blank_range": range(5 - award.stars),
        "address": request.build_absolute_uri()})
