"""The ledger API under /api/v1/points/ — thin views over services and selectors; the services check
role and scope and raise domain errors, which come out in the one error shape (4xx with a message).

Reads:   me/, rules/, rules/<code>/ (with its versions), ranking/, entries/ (staff, within scope).
Writes:  rules/ (create), rules/<code>/revise/; entries/ (post; idempotent), entries/<id>/reverse/.
A POST that creates answers 201; the same request again (same idempotency key, or a revision that
changes nothing) answers 200 with what was made the first time."""
from __future__ import annotations

import django_filters
from django.db.models import Exists, OuterRef
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_serializer,
    inline_serializer,
)
from rest_framework import generics, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from kernel import idempotency
from kernel.errors import DomainError
from kernel.filters import query_bool, query_choice
from modules.points.api_common import (
    IDEMPOTENCY_HEADER,
    Staff,
    _evidence_file,
    _evidence_url,
    _fake,
    _inside,
    _int,
    _key,
    _resident,
    enum_field,
    values_field,
)
from modules.points.ledger import rules as rulebook
from modules.points.ledger import selectors
from modules.points.ledger import services as ledger
from modules.points.models import (
    AutoSource,
    BalanceKind,
    CapPeriod,
    CompoundScore,
    Direction,
    Entry,
    Origin,
    Rule,
    RuleVersion,
    SourceKind,
)


def entries_for(user):
    qs = Entry.objects.select_related("resident", "rule", "rule_version", "posted_by", "approved_by").annotate(
        reversed=Exists(Entry.objects.filter(reverses_id=OuterRef("pk"))))
    inside = _inside(user, ledger.POSTER_ROLES)
    return qs if inside is None else qs.filter(resident_id__in=inside)

# --- a resident's own points (read) ------------------------------------------------------------------------

@extend_schema_serializer(component_name="PointsHistoryEntry")
class EntrySerializer(serializers.Serializer):
    """One entry of a resident's history (documentation of the rows ``selectors.history_rows`` gives)."""

    id = serializers.IntegerField()
    posted_at = serializers.DateTimeField()
    occurred_on = serializers.DateField()
    kind = values_field(BalanceKind.choices)
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


@extend_schema_serializer(component_name="PointsTier")
class TierSerializer(serializers.Serializer):
    key = serializers.CharField()
    name_zh = serializers.CharField()
    name_en = serializers.CharField(required=False)
    min_points = serializers.IntegerField()


@extend_schema_serializer(component_name="PointsMe")
class MeSerializer(serializers.Serializer):
    resident = serializers.DictField()
    balances = serializers.DictField(child=serializers.IntegerField())
    tier = TierSerializer(allow_null=True)
    next_tier = TierSerializer(allow_null=True)
    count = serializers.IntegerField()
    page = serializers.IntegerField()
    page_size = serializers.IntegerField()
    history = EntrySerializer(many=True)


class Me(APIView):
    """The signed-in resident's balances, honour tier and history (newest first), each entry with
    its rule, reason, evidence, source and approver."""

    permission_classes = [IsAuthenticated]
    error_statuses = [404]  # not a registered resident

    @extend_schema(responses={200: MeSerializer},
                   parameters=[OpenApiParameter("page", {"type": "integer", "minimum": 1, "maximum": 100_000}),
                               OpenApiParameter("page_size", {"type": "integer", "minimum": 1, "maximum": 200}),
                               OpenApiParameter("kind", enum=BalanceKind.values)])
    def get(self, request):
        resident = ledger.resident_of(request.user)
        if resident is None:
            raise DomainError(_("Your account is not linked to a registered resident yet: bind your household first."),
                              code="no_resident", status=404)
        kind = query_choice(request, "kind", BalanceKind.values)
        page = _int(request, "page", 1, 1, 100_000)
        size = _int(request, "page_size", 20, 1, 200)
        s = selectors.summary(resident, limit=size, offset=(page - 1) * size, kind=kind)
        return Response({
            "resident": {"id": resident.pk, "name": resident.name},
            "balances": s.balances, "tier": s.tier, "next_tier": s.next_tier,
            "count": s.total_entries, "page": page, "page_size": size, "history": s.entries,
        })


# --- the rulebook ---------------------------------------------------------------------------------------

@extend_schema_serializer(component_name="PointsRule")
class RuleSerializer(serializers.ModelSerializer):
    code = serializers.CharField(source="rule.code")
    direction = enum_field(Direction.choices)
    kind = values_field(BalanceKind.choices)
    cap_period = enum_field(CapPeriod.choices + [("", "")])
    origin = enum_field(Origin.choices)
    auto_source = enum_field(AutoSource.choices)

    class Meta:
        model = RuleVersion
        fields = ["code", "version", "name_zh", "name_en", "description", "direction", "kind", "category",
                  "min_points", "max_points", "default_points", "evidence_required", "committee_required",
                  "cap_period", "cap_count", "cap_points", "effective_from", "effective_to", "origin", "origin_note",
                  "auto_source", "auto_categories"]
        read_only_fields = fields


@extend_schema_serializer(component_name="PointsRuleVersion")
class RuleVersionSerializer(RuleSerializer):
    created_by = serializers.CharField(source="created_by.username", default=None, allow_null=True)

    class Meta(RuleSerializer.Meta):
        fields = [*RuleSerializer.Meta.fields, "is_current", "created_at", "created_by", "note"]
        read_only_fields = fields


@extend_schema_serializer(component_name="PointsRuleDetail")
class RuleDetailSerializer(serializers.Serializer):
    code = serializers.CharField()
    current = RuleVersionSerializer()
    versions = RuleVersionSerializer(many=True, help_text="every version, newest first")


class RuleWriteSerializer(serializers.Serializer):
    """The fields of a rule version. Point values are magnitudes (≥ 1); ``direction`` gives the sign.
    The service checks them together (range, caps, dates, automatic sources) and names what is wrong."""

    name_zh = serializers.CharField(max_length=80)
    name_en = serializers.CharField(max_length=120, required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True)
    direction = enum_field(Direction.choices)
    kind = values_field(BalanceKind.choices, required=False)
    category = serializers.CharField(max_length=40)
    min_points = serializers.IntegerField()
    max_points = serializers.IntegerField()
    default_points = serializers.IntegerField(required=False, allow_null=True,
                                              help_text="empty: the minimum")
    evidence_required = serializers.BooleanField(required=False)
    committee_required = serializers.BooleanField(required=False)
    cap_period = enum_field(CapPeriod.choices + [("", "")], required=False, allow_blank=True)
    cap_count = serializers.IntegerField(required=False, allow_null=True, help_text="postings per person per period")
    cap_points = serializers.IntegerField(required=False, allow_null=True, help_text="points per person per period")
    effective_from = serializers.DateField(required=False, allow_null=True)
    effective_to = serializers.DateField(required=False, allow_null=True, help_text="last day the rule applies")
    origin = enum_field(Origin.choices, required=False)
    origin_note = serializers.CharField(max_length=300, required=False, allow_blank=True)
    auto_source = enum_field(AutoSource.choices, required=False, allow_blank=True)
    auto_categories = serializers.ListField(child=serializers.CharField(), required=False)
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="",
                                 help_text="why (kept with the version)")


@extend_schema_serializer(component_name="PointsRuleCreate")
class RuleCreateSerializer(RuleWriteSerializer):
    code = serializers.CharField(max_length=40, help_text="letters, digits and _; never changes")


@extend_schema_serializer(component_name="PointsRuleRevise")
class RuleReviseSerializer(RuleWriteSerializer):
    """Only the fields given change; the others are taken from the current version."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, f in self.fields.items():
            if name != "note":
                f.required = False


def _rule_detail(code: str) -> dict:
    versions = list(selectors.rule_history(code).select_related("rule", "created_by"))
    if not versions:
        raise DomainError(_("There is no rule %(code)s in this district's rulebook.") % {"code": code},
                          code="not_found", status=404)
    current = next((v for v in versions if v.is_current), versions[0])
    return {"code": code, "current": RuleVersionSerializer(current).data,
            "versions": RuleVersionSerializer(versions, many=True).data}


class Rules(generics.ListAPIView):
    """GET: the district's rulebook: the current version of each rule in force today (``all=1``: every
    rule, in force or not). POST: a new rule (the district administrator)."""

    serializer_class = RuleSerializer
    permission_classes = [IsAuthenticated]

    @extend_schema(parameters=[OpenApiParameter("direction", enum=Direction.values), OpenApiParameter("category"),
                               OpenApiParameter("all", bool)])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        params = self.request.query_params
        qs = selectors.rules_in_force(include_all=query_bool(self.request, "all"))
        if query_choice(self.request, "direction", Direction.values):
            qs = qs.filter(direction=params["direction"])
        if params.get("category"):
            qs = qs.filter(category=params["category"])
        return qs

    @extend_schema(summary="Add a rule (district administrator)", request=RuleCreateSerializer,
                   responses={201: RuleDetailSerializer})
    def post(self, request):
        data = RuleCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        version = rulebook.create_rule(actor=request.user, **values)
        return Response(_rule_detail(version.rule.code), status=status.HTTP_201_CREATED)


class RuleDetail(APIView):
    """A rule with every version (newest first): what it said when, who changed it and why."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: RuleDetailSerializer})
    def get(self, request, code: str):
        return Response(_rule_detail(code))


class RuleRevise(APIView):
    """A new version of the rule (the district administrator). Entries already posted keep the version
    they were posted under. 201 with the new version; 200 when nothing changed."""

    permission_classes = [IsAuthenticated]

    @extend_schema(summary="Revise a rule (new version)", request=RuleReviseSerializer,
                   responses={201: RuleDetailSerializer, 200: RuleDetailSerializer})
    def post(self, request, code: str):
        get_object_or_404(Rule, code=code)
        data = RuleReviseSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        note = changes.pop("note", "")
        before = ledger.current_version(code).pk
        version = rulebook.revise_rule(actor=request.user, rule=code, note=note, **changes)
        changed = version.pk != before
        return Response(_rule_detail(code), status=status.HTTP_201_CREATED if changed else status.HTTP_200_OK)


# --- the ledger (staff) -------------------------------------------------------------------------------------

@extend_schema_serializer(component_name="PointsEntry")
class LedgerEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    resident = serializers.IntegerField(source="resident_id")
    resident_name = serializers.CharField(source="resident.name")
    posted_at = serializers.DateTimeField()
    occurred_on = serializers.DateField()
    kind = values_field(BalanceKind.choices)
    points = serializers.IntegerField(help_text="signed")
    reason = serializers.CharField()
    evidence = serializers.CharField()
    evidence_file = serializers.SerializerMethodField()
    rule = serializers.CharField(source="rule.code")
    rule_name = serializers.CharField(source="rule_version.name_zh")
    rule_version = serializers.IntegerField(source="rule_version.version")
    source_kind = enum_field(SourceKind.choices)
    source_id = serializers.IntegerField(allow_null=True)
    posted_by = serializers.CharField(source="posted_by.username", default=None, allow_null=True, help_text="empty: the platform")
    approved_by = serializers.CharField(source="approved_by.username", default=None, allow_null=True)
    reverses = serializers.IntegerField(source="reverses_id", allow_null=True)
    reversed = serializers.SerializerMethodField()

    def get_evidence_file(self, entry) -> str | None:
        return _evidence_url("entry", entry)

    def get_reversed(self, entry) -> bool:
        found = getattr(entry, "reversed", None)
        return bool(found) if found is not None else Entry.objects.filter(reverses_id=entry.pk).exists()


class EntryFilter(django_filters.FilterSet):
    resident = django_filters.NumberFilter(field_name="resident_id")
    rule = django_filters.CharFilter(field_name="rule__code", help_text="rule code")
    source_kind = django_filters.ChoiceFilter(choices=SourceKind.choices)
    source_id = django_filters.NumberFilter()
    kind = django_filters.ChoiceFilter(choices=BalanceKind.choices)
    occurred_from = django_filters.DateFilter(field_name="occurred_on", lookup_expr="gte",
                                              help_text="deed date on or after")
    occurred_to = django_filters.DateFilter(field_name="occurred_on", lookup_expr="lte",
                                            help_text="deed date on or before")
    posted_from = django_filters.DateFilter(field_name="posted_at", lookup_expr="date__gte")
    posted_to = django_filters.DateFilter(field_name="posted_at", lookup_expr="date__lte")

    class Meta:
        model = Entry
        fields = []


@extend_schema_serializer(component_name="PointsEntryPost")
class EntryPostSerializer(serializers.Serializer):
    resident = serializers.IntegerField(help_text="resident id")
    rule = serializers.CharField(help_text="rule code")
    points = serializers.IntegerField(help_text="signed: negative for a deduct rule")
    reason = serializers.CharField(max_length=500)
    occurred_on = serializers.DateField(required=False, allow_null=True, help_text="deed date; empty: today")
    evidence = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    evidence_file = serializers.FileField(required=False, allow_null=True, help_text="a photo (JPEG, PNG, WebP) or a PDF, ≤ 10 MB")
    idempotency_key = serializers.CharField(required=False, allow_blank=True, max_length=idempotency.KEY_MAX,
                                            help_text=f"or the Idempotency-Key header. {idempotency.RULE}")


@extend_schema_serializer(component_name="PointsReason")
class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


@extend_schema_serializer(component_name="PointsNote")
class NoteSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class Entries(generics.ListAPIView):
    """GET: entries of the residents in the caller's area (staff), newest first. POST: post points
    under a rule that needs no committee (staff, within their area, never their own)."""

    serializer_class = LedgerEntrySerializer
    permission_classes = [Staff]
    filterset_class = EntryFilter
    ordering_fields = ["id", "occurred_on", "posted_at", "points"]

    def get_queryset(self):
        if _fake(self):
            return Entry.objects.none()
        return entries_for(self.request.user).order_by("-id")

    @extend_schema(summary="Post points", request=EntryPostSerializer, parameters=[IDEMPOTENCY_HEADER],
                   responses={201: LedgerEntrySerializer, 200: LedgerEntrySerializer})
    def post(self, request):
        key = _key(request, request.data)  # 400 for a bad key, in the one shape, before the body's checks
        data = EntryPostSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        entry = ledger.post_entry(actor=request.user, resident=_resident(v["resident"]), rule=v["rule"],
                                    points=v["points"], reason=v["reason"], occurred_on=v.get("occurred_on"),
                                    evidence=v.get("evidence", ""),
                                    evidence_file=_evidence_file(v.get("evidence_file")),
                                    idempotency_key=key)
        created = idempotency.created(entry)
        entry = entries_for(request.user).filter(pk=entry.pk).first() or entry
        return Response(LedgerEntrySerializer(entry).data, status=status.HTTP_201_CREATED if created else 200)


class EntryDetail(generics.RetrieveAPIView):
    serializer_class = LedgerEntrySerializer
    permission_classes = [Staff]

    def get_queryset(self):
        if _fake(self):
            return Entry.objects.none()
        return entries_for(self.request.user)


class EntryReverse(APIView):
    """Correct an entry by posting its exact opposite (a committee member or the administrator who
    did not post or approve it). 201 with the reversing entry; 200 if it was reversed already."""

    permission_classes = [Staff]

    @extend_schema(summary="Reverse an entry", request=ReasonSerializer,
                   responses={201: LedgerEntrySerializer, 200: LedgerEntrySerializer})
    def post(self, request, pk: int):
        entry = get_object_or_404(entries_for(request.user), pk=pk)
        data = ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        reversal = ledger.reverse_entry(actor=request.user, entry=entry, reason=data.validated_data["reason"])
        created = idempotency.created(reversal)
        reversal = entries_for(request.user).filter(pk=reversal.pk).first() or reversal
        return Response(LedgerEntrySerializer(reversal).data, status=status.HTTP_201_CREATED if created else 200)


# --- the compound ranking ---------------------------------------------------------------------------------------

@extend_schema_serializer(component_name="PointsRanking")
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

    @extend_schema(responses={200: inline_serializer("PointsRankingList", {
                       "results": RankingSerializer(many=True)})},
                   parameters=[OpenApiParameter("community"),
                               OpenApiParameter("limit", {"type": "integer", "minimum": 1, "maximum": 200})])
    def get(self, request):
        rows = selectors.compound_ranking(limit=_int(request, "limit", 20, 1, 200),
                                          community=request.query_params.get("community") or None)
        return Response({"results": RankingSerializer(rows, many=True).data})
