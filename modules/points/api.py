"""The points API (read part): a resident's balance, tier and history; the rulebook in force; the
compound ranking. Thin views over selectors; errors come out in the one error shape."""
from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from kernel.errors import DomainError
from modules.points import selectors, services
from modules.points.models import BalanceKind, CompoundScore, Direction, RuleVersion


class EntrySerializer(serializers.Serializer):
    """One entry of a resident's history (documentation of the rows ``selectors.history_rows`` gives)."""

    id = serializers.IntegerField()
    posted_at = serializers.DateTimeField()
    occurred_on = serializers.DateField()
    kind = serializers.ChoiceField(choices=BalanceKind.choices)
    points = serializers.IntegerField(help_text="signed")
    reason = serializers.CharField()
    evidence = serializers.CharField()
    rule = serializers.CharField(help_text="rule code")
    rule_name = serializers.CharField()
    rule_name_en = serializers.CharField()
    rule_version = serializers.IntegerField(help_text="the version it was posted under")
    source_kind = serializers.CharField()
    source_id = serializers.IntegerField(allow_null=True)
    posted_by = serializers.CharField(allow_null=True, help_text="empty: the platform")
    approved_by = serializers.CharField(allow_null=True)
    reverses = serializers.IntegerField(allow_null=True, help_text="the entry this one corrects")
    reversed = serializers.BooleanField(help_text="corrected since by a reversing entry")


class TierSerializer(serializers.Serializer):
    key = serializers.CharField()
    name_zh = serializers.CharField()
    name_en = serializers.CharField(required=False)
    min_points = serializers.IntegerField()


class MeSerializer(serializers.Serializer):
    resident = serializers.DictField()
    balances = serializers.DictField(child=serializers.IntegerField())
    tier = TierSerializer(allow_null=True)
    next_tier = TierSerializer(allow_null=True)
    count = serializers.IntegerField()
    page = serializers.IntegerField()
    page_size = serializers.IntegerField()
    history = EntrySerializer(many=True)


def _int(request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise DomainError(_("%(name)s must be a whole number.") % {"name": name}, fields={name: [_("Not a number.")]})
    return max(low, min(high, value))


class Me(APIView):
    """The signed-in resident's balances, honour tier and history (newest first), each entry with
    its rule, reason, evidence, source and approver."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: MeSerializer},
                   parameters=[OpenApiParameter("page", int), OpenApiParameter("page_size", int),
                               OpenApiParameter("kind", enum=BalanceKind.values)])
    def get(self, request):
        resident = services.resident_of(request.user)
        if resident is None:
            raise DomainError(_("Your account is not linked to a registered resident yet: bind your household first."),
                              code="no_resident", status=404)
        kind = request.query_params.get("kind") or None
        if kind and kind not in BalanceKind.values:
            raise DomainError(_("kind is civic or material."), fields={"kind": [_("Unknown.")]})
        page = _int(request, "page", 1, 1, 100_000)
        size = _int(request, "page_size", 20, 1, 200)
        s = selectors.summary(resident, limit=size, offset=(page - 1) * size, kind=kind)
        return Response({
            "resident": {"id": resident.pk, "name": resident.name},
            "balances": s.balances, "tier": s.tier, "next_tier": s.next_tier,
            "count": s.total_entries, "page": page, "page_size": size, "history": s.entries,
        })


class RuleSerializer(serializers.ModelSerializer):
    code = serializers.CharField(source="rule.code")

    class Meta:
        model = RuleVersion
        fields = ["code", "version", "name_zh", "name_en", "description", "direction", "kind", "category",
                  "min_points", "max_points", "default_points", "evidence_required", "committee_required",
                  "cap_period", "cap_count", "cap_points", "effective_from", "effective_to", "origin", "origin_note",
                  "auto_source", "auto_categories"]
        read_only_fields = fields


class Rules(generics.ListAPIView):
    """The district's rulebook: the current version of each rule in force today (``all=1``: every
    rule, in force or not)."""

    serializer_class = RuleSerializer
    permission_classes = [IsAuthenticated]

    @extend_schema(parameters=[OpenApiParameter("direction", enum=Direction.values), OpenApiParameter("category"),
                               OpenApiParameter("all", bool)])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        params = self.request.query_params
        qs = selectors.rules_in_force(include_all=params.get("all") in ("1", "true"))
        if params.get("direction"):
            qs = qs.filter(direction=params["direction"])
        if params.get("category"):
            qs = qs.filter(category=params["category"])
        return qs


class RankingSerializer(serializers.ModelSerializer):
    compound = serializers.CharField(source="compound.code")
    compound_name = serializers.CharField(source="compound.name")

    class Meta:
        model = CompoundScore
        fields = ["rank", "compound", "compound_name", "score", "households", "residents", "civic_points",
                  "reports_made", "praises", "offences", "computed_at"]
        read_only_fields = fields


class Ranking(APIView):
    """Compounds by civility score (小区文明积分), best first; refreshed every few minutes."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: RankingSerializer(many=True)},
                   parameters=[OpenApiParameter("community"), OpenApiParameter("limit", int)])
    def get(self, request):
        rows = selectors.compound_ranking(limit=_int(request, "limit", 20, 1, 200),
                                          community=request.query_params.get("community") or None)
        return Response({"results": RankingSerializer(rows, many=True).data})
