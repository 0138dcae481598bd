"""The reports API (under /api/v1/ratings/): scores, rankings, trends, the department's people, the
official's and the merchant's own figures, and the star merchants with their certificates. Thin views
over ``reports.selectors`` (the same figures as the pages and the Excel) and ``reports.services``.

Who sees what (``reports.people``): rankings and trends to staff; a score to staff, to the official
themself, to the head of the official's department, to the merchant's owner; a certificate to anyone."""
from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from kernel.api import AnonThrottle, UserThrottle
from kernel.errors import DomainError, NotAllowed
from kernel.filters import query_int
from kernel.permissions import HasRole
from kernel.roles import STAFF_ROLES
from modules.ratings.ledger.models import Channel
from modules.ratings.reports import people, services
from modules.ratings.reports import selectors as sel
from modules.ratings.reports.models import StarAward

Staff = HasRole(*STAFF_ROLES)

PERIOD_PARAMS = [
    OpenApiParameter("start", str, description="first month (2026-01) or a date in it; custom period"),
    OpenApiParameter("end", str, description="last month (2026-12) or a date in it; custom period"),
    OpenApiParameter("period", str, enum=list(sel.PERIOD_KINDS), description="default: custom with start/end, "
                     "else the current year"),
    OpenApiParameter("month", str, description="period=month: 2026-12"),
    OpenApiParameter("quarter", str, description="period=quarter: 2026-Q4"),
    OpenApiParameter("year", str, description="period=year: 2026"),
]


# --- serializers ----------------------------------------------------------------------------------------

class FigureSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="dimension key; '' is the overall level")
    name = serializers.CharField()
    n = serializers.IntegerField(help_text="counted ratings")
    average = serializers.DecimalField(max_digits=4, decimal_places=2, allow_null=True)
    bad = serializers.IntegerField(help_text="counted ratings of the last two levels")
    bad_share = serializers.DecimalField(max_digits=5, decimal_places=4, allow_null=True)


class HoldRuleSerializer(serializers.Serializer):
    rule = serializers.CharField()
    label = serializers.CharField()
    held = serializers.IntegerField()
    rejected = serializers.IntegerField()


class ExplanationSerializer(serializers.Serializer):
    counted = serializers.IntegerField()
    held = serializers.IntegerField(help_text="held for review: out of the figures until a reviewer decides")
    rejected = serializers.IntegerField()
    removed = serializers.IntegerField(help_text="removed on appeal")
    superseded = serializers.IntegerField(help_text="replaced by the rater's later rating in the period")
    hold_rules = HoldRuleSerializer(many=True)


class ScoreSerializer(serializers.Serializer):
    subject_kind = serializers.CharField()
    subject_id = serializers.IntegerField()
    subject_name = serializers.CharField()
    start = serializers.DateField(help_text="first day of the first month")
    end = serializers.DateField(help_text="first day of the last month")
    min_ratings = serializers.IntegerField(help_text="fewest counted ratings to be ranked")
    enough = serializers.BooleanField(help_text="false: too few ratings to rank")
    overall = FigureSerializer()
    dimensions = FigureSerializer(many=True)
    explanation = ExplanationSerializer()


def _figure(f) -> dict:
    return {"key": f.key, "name": str(f.name), "n": f.n, "average": f.average, "bad": f.bad, "bad_share": f.bad_share}


def _score(s: sel.Score) -> dict:
    e = s.explanation
    return {"subject_kind": s.subject_kind, "subject_id": s.subject_id, "subject_name": s.subject_name,
            "start": s.start, "end": s.end, "min_ratings": s.min_ratings, "enough": s.enough,
            "overall": _figure(s.overall), "dimensions": [_figure(f) for f in s.dimensions],
            "explanation": {"counted": e.counted, "held": e.held, "rejected": e.rejected, "removed": e.removed,
                            "superseded": e.superseded, "hold_rules": e.hold_rules}}


class RankRowSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    detail = serializers.CharField(help_text="an official's department, a grid's community, a merchant's grid")
    n = serializers.IntegerField()
    average = serializers.DecimalField(max_digits=4, decimal_places=2, allow_null=True)
    bad = serializers.IntegerField()
    bad_share = serializers.DecimalField(max_digits=5, decimal_places=4, allow_null=True)
    rank = serializers.IntegerField(allow_null=True, help_text="null: fewer than min_ratings, not ranked")


class RankingSerializer(serializers.Serializer):
    unit = serializers.CharField()
    dimension = serializers.CharField()
    start = serializers.DateField()
    end = serializers.DateField()
    min_ratings = serializers.IntegerField()
    rows = RankRowSerializer(many=True, help_text="ranked (by rank), then the unranked (by count)")


def _ranking(r: sel.Ranking) -> dict:
    return {"unit": r.unit, "dimension": r.dimension, "start": r.start, "end": r.end, "min_ratings": r.min_ratings,
            "rows": [{"id": x.id, "name": x.name, "detail": x.detail or "", "n": x.n, "average": x.average,
                      "bad": x.bad, "bad_share": x.bad_share, "rank": x.rank} for x in r.rows]}


class PointSerializer(serializers.Serializer):
    month = serializers.DateField()
    n = serializers.IntegerField()
    average = serializers.DecimalField(max_digits=4, decimal_places=2, allow_null=True)
    bad = serializers.IntegerField()
    bad_share = serializers.DecimalField(max_digits=5, decimal_places=4, allow_null=True)


class TrendSerializer(serializers.Serializer):
    unit = serializers.CharField()
    id = serializers.IntegerField(allow_null=True)
    name = serializers.CharField()
    dimension = serializers.CharField()
    points = PointSerializer(many=True)


class RatingItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    channel = serializers.CharField()
    level = serializers.IntegerField()
    scores = serializers.DictField(child=serializers.IntegerField())
    comment = serializers.CharField()
    state = serializers.CharField()
    follow_up_status = serializers.CharField(allow_null=True)
    appeal_status = serializers.CharField(allow_null=True, help_text="the latest appeal's status")
    reply = serializers.CharField(allow_null=True, help_text="the merchant's reply")


def _rating(r) -> dict:
    follow_up = getattr(r, "follow_up", None) if hasattr(r, "follow_up") else None
    appeals = list(r.appeals.all())
    reply = getattr(r, "reply", None) if hasattr(r, "reply") else None
    return {"id": r.pk, "created_at": r.created_at, "channel": r.channel, "level": r.level, "scores": r.scores or {},
            "comment": r.comment, "state": r.state, "follow_up_status": follow_up.status if follow_up else None,
            "appeal_status": appeals[0].status if appeals else None, "reply": reply.text if reply else None}


class MineSerializer(serializers.Serializer):
    score = ScoreSerializer()
    ratings = RatingItemSerializer(many=True, help_text="the period's ratings, newest first (at most 50); "
                                   "raters are never shown")


class StarSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="the certificate's address: /ratings/stars/<token>/")
    merchant_id = serializers.IntegerField()
    merchant = serializers.CharField()
    year = serializers.IntegerField()
    stars = serializers.IntegerField()
    ratings = serializers.IntegerField()
    average = serializers.DecimalField(max_digits=4, decimal_places=2)
    bad_share = serializers.DecimalField(max_digits=5, decimal_places=4)
    awarded_at = serializers.DateTimeField()
    revoked = serializers.BooleanField()
    revoked_reason = serializers.CharField()
    certificate_url = serializers.CharField()


def _star(a: StarAward) -> dict:
    return {"token": a.token, "merchant_id": a.merchant_id, "merchant": a.merchant.name, "year": a.year,
            "stars": a.stars, "ratings": a.ratings, "average": a.average, "bad_share": a.bad_share,
            "awarded_at": a.awarded_at, "revoked": a.revoked_at is not None, "revoked_reason": a.revoked_reason,
            "certificate_url": f"/ratings/stars/{a.token}/"}


class AwardInput(serializers.Serializer):
    year = serializers.IntegerField(help_text="the year whose star merchants are awarded")


class AwardOutput(serializers.Serializer):
    year = serializers.IntegerField()
    awarded = StarSerializer(many=True, help_text="awarded now (merchants already awarded are left as they are)")


class RevokeInput(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


# --- views ----------------------------------------------------------------------------------------------

def _period(request) -> sel.Period:
    return sel.period_from(request.query_params)


def _id(request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    return query_int(request, name, 0, 1, 2**31 - 1)


class Scores(APIView):
    permission_classes = [IsAuthenticated]
    throttle_classes = [UserThrottle]

    @extend_schema(summary="A subject's score by dimension, with what was left out and why",
                   parameters=[OpenApiParameter("official", int), OpenApiParameter("merchant", int), *PERIOD_PARAMS],
                   responses=ScoreSerializer)
    def get(self, request):
        from modules.registry.models import Merchant, Official

        official_id, merchant_id = _id(request, "official"), _id(request, "merchant")
        if (official_id is None) == (merchant_id is None):
            message = _("Give an official or a merchant.")
            raise DomainError(message, code="subject_required", fields={"official": [message]})
        period = _period(request)
        if official_id is not None:
            official = get_object_or_404(Official, pk=official_id)
            if not people.may_see_official(request.user, official):
                raise NotAllowed(_("You may see your own scores, and your department's if you head it."))
            score = sel.score_of(official=official, start=period.start, end=period.end)
        else:
            merchant = get_object_or_404(Merchant, pk=merchant_id)
            if not people.may_see_merchant(request.user, merchant):
                raise NotAllowed(_("You may see your own shop's scores."))
            score = sel.score_of(merchant=merchant, start=period.start, end=period.end)
        return Response(ScoreSerializer(_score(score)).data)


class Rankings(APIView):
    permission_classes = [Staff]
    throttle_classes = [UserThrottle]

    @extend_schema(summary="Ranking of officials, departments, streets, grids or merchants",
                   parameters=[OpenApiParameter("unit", str, enum=list(sel.UNITS), required=True),
                               OpenApiParameter("dimension", str, description="a dimension key; empty: overall"),
                               OpenApiParameter("channel", str, enum=list(Channel.values)), *PERIOD_PARAMS],
                   responses=RankingSerializer)
    def get(self, request):
        period = _period(request)
        channel = request.query_params.get("channel") or None
        if channel and channel not in Channel.values:
            raise DomainError(_("Not a channel."), code="bad_channel", fields={"channel": [_("Not a channel.")]})
        ranking = sel.ranking(unit=request.query_params.get("unit") or "", dimension=request.query_params.get(
            "dimension", ""), start=period.start, end=period.end, channel=channel)
        return Response(RankingSerializer(_ranking(ranking)).data)


class Trends(APIView):
    permission_classes = [Staff]
    throttle_classes = [UserThrottle]

    @extend_schema(summary="Monthly series of a subject or unit (or the whole district)",
                   parameters=[OpenApiParameter("unit", str, enum=[*sel.UNITS, "district"]),
                               OpenApiParameter("id", int), OpenApiParameter("dimension", str),
                               OpenApiParameter("months", int, description="1–120, default 12"),
                               OpenApiParameter("end", str, description="last month, default this month")],
                   responses=TrendSerializer)
    def get(self, request):
        unit = request.query_params.get("unit") or "district"
        pk = _id(request, "id") if unit != "district" else None
        if unit != "district" and pk is None:
            raise DomainError(_("Give the id of the subject."), code="id_required", fields={"id": [_("Required.")]})
        months = query_int(request, "months", 12, 1, 120)
        end = sel.parse_month(request.query_params["end"], "end") if request.query_params.get("end") else None
        dimension = request.query_params.get("dimension", "")
        name = sel.unit_name(unit, pk)
        points = sel.trend(unit=unit, id=pk, dimension=dimension, months=months, end=end)
        return Response(TrendSerializer({"unit": unit, "id": pk, "name": name, "dimension": dimension, "points": [
            {"month": p.month, "n": p.n, "average": p.average, "bad": p.bad, "bad_share": p.bad_share}
            for p in points]}).data)


class Department(APIView):
    permission_classes = [IsAuthenticated]
    throttle_classes = [UserThrottle]

    @extend_schema(summary="A department head's people, ranked within the department",
                   parameters=[OpenApiParameter("department", str, description="department code; default: the "
                                                "first the user heads"), OpenApiParameter("dimension", str),
                               *PERIOD_PARAMS], responses=RankingSerializer)
    def get(self, request):
        departments = list(people.headed_departments(request.user))
        code = request.query_params.get("department")
        chosen = next((d for d in departments if d.code == code), None) if code else (departments or [None])[0]
        if chosen is None:
            raise NotAllowed(_("Only the head of a department sees its people's scores."))
        period = _period(request)
        ranking = sel.ranking(unit="official", dimension=request.query_params.get("dimension", ""),
                              start=period.start, end=period.end, department=chosen)
        return Response(RankingSerializer(_ranking(ranking)).data)


def _mine(request, *, official=None, merchant=None) -> dict:
    period = _period(request)
    score = sel.score_of(official=official, merchant=merchant, start=period.start, end=period.end)
    since, until = sel.bounds(period.start, period.end)
    ratings = people.ratings_of(official=official, merchant=merchant, since=since, until=until)
    return {"score": _score(score), "ratings": [_rating(r) for r in ratings]}


class MyOfficial(APIView):
    error_statuses = (404,)  # the caller has no official's record
    permission_classes = [IsAuthenticated]
    throttle_classes = [UserThrottle]

    @extend_schema(summary="The signed-in official's own scores and ratings", parameters=PERIOD_PARAMS,
                   responses=MineSerializer)
    def get(self, request):
        official = people.official_of(request.user)
        if official is None:
            raise DomainError(_("Your account is not linked to an official's record."), code="not_an_official",
                              status=404)
        return Response(MineSerializer(_mine(request, official=official)).data)


class MyMerchant(APIView):
    error_statuses = (404,)  # the caller has no merchant's record
    permission_classes = [IsAuthenticated]
    throttle_classes = [UserThrottle]

    @extend_schema(summary="The signed-in merchant's own scores, ratings and replies",
                   parameters=[OpenApiParameter("merchant", int, description="default: the first they own"),
                               *PERIOD_PARAMS], responses=MineSerializer)
    def get(self, request):
        merchants = list(people.merchants_of(request.user))
        wanted = _id(request, "merchant")
        merchant = next((m for m in merchants if wanted in (None, m.pk)), None)
        if merchant is None:
            raise DomainError(_("No shop or stall is registered under your account."), code="not_a_merchant",
                              status=404)
        return Response(MineSerializer(_mine(request, merchant=merchant)).data)


class Stars(APIView):
    throttle_classes = [AnonThrottle, UserThrottle]

    def get_permissions(self):
        return [AllowAny()] if self.request.method == "GET" else [IsAuthenticated()]

    @extend_schema(summary="The year's star merchants (staff also see revoked awards)",
                   parameters=[OpenApiParameter("year", int)], responses=StarSerializer(many=True))
    def get(self, request):
        year = query_int(request, "year", 0, 2000, 2100) if request.query_params.get("year") else None
        awards = sel.star_awards(year=year, include_revoked=people.is_staff(request.user))
        return Response(StarSerializer([_star(a) for a in awards[:500]], many=True).data)

    @extend_schema(summary="Award the year's star merchants by the district's rules (district administrator)",
                   request=AwardInput, responses={201: AwardOutput})
    def post(self, request):
        data = AwardInput(data=request.data)
        data.is_valid(raise_exception=True)
        made = services.award_stars(actor=request.user, year=data.validated_data["year"])
        for a in made:
            a.merchant.name  # noqa: B018 - loaded for the output
        return Response(AwardOutput({"year": data.validated_data["year"], "awarded": [_star(a) for a in made]}).data,
                        status=201)


class StarCertificate(APIView):
    permission_classes = [AllowAny]
    throttle_classes = [AnonThrottle, UserThrottle]

    @extend_schema(summary="A star merchant's certificate (public)", responses=StarSerializer)
    def get(self, request, token: str):
        award = StarAward.objects.select_related("merchant").filter(token=token).first()
        if award is None:
            raise DomainError(_("There is no certificate at this address."), code="not_found", status=404)
        return Response(StarSerializer(_star(award)).data)


class StarRevoke(APIView):
    permission_classes = [IsAuthenticated]
    throttle_classes = [UserThrottle]

    @extend_schema(summary="Revoke a star award, with a reason (district administrator)", request=RevokeInput,
                   responses=StarSerializer)
    def post(self, request, token: str):
        award = StarAward.objects.select_related("merchant").filter(token=token).first()
        if award is None:
            raise DomainError(_("There is no certificate at this address."), code="not_found", status=404)
        data = RevokeInput(data=request.data)
        data.is_valid(raise_exception=True)
        award = services.revoke_star(actor=request.user, award=award, reason=data.validated_data["reason"])
        return Response(StarSerializer(_star(award)).data)
