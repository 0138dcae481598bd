"""The API of ratings.integrity under /api/v1/ratings/: held/ (the queue a reviewer may decide, with its
filters), held/<id>/ (a held rating, its reasons and what surrounds it), held/<id>/decide/ (release or
reject, with a reason), scan/ (start the anti-gaming pass; returns the run). Thin: the services check
who may decide (``services.may_review``); see ``integrity.services`` for who reviews what."""
from __future__ import annotations

import django_filters
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_serializer
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from kernel.permissions import HasRole
from kernel.roles import Role
from modules.ratings.integrity import selectors, services
from modules.ratings.integrity.checks import RULES
from modules.ratings.integrity.models import ScanRun
from modules.ratings.ledger.models import Rating, SubjectKind

Reviewers = HasRole(*services.REVIEW_ROLES)


def _values(choices) -> str:
    return " | ".join(str(c[0] if isinstance(c, tuple | list) else c) for c in choices)


@extend_schema_serializer(component_name="RatingsHoldReason")
class HoldReasonSerializer(serializers.Serializer):
    rule = serializers.CharField(help_text=" | ".join(RULES))
    name = serializers.CharField(help_text="the rule's name in the reader's language")
    detail = serializers.CharField(help_text="what was found, with its numbers, in the reader's language")
    by = serializers.CharField(help_text="'' at submission; 'scan:<run>' by the periodic pass")


@extend_schema_serializer(component_name="RatingsHeldRating")
class HeldRatingSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    subject_kind = serializers.CharField(help_text=_values(SubjectKind.choices))
    subject = serializers.SerializerMethodField(help_text="the rated official's or merchant's name")
    official = serializers.IntegerField(source="official_id", allow_null=True)
    merchant = serializers.IntegerField(source="merchant_id", allow_null=True)
    department = serializers.CharField(source="department.code", default=None, allow_null=True)
    grid = serializers.CharField(source="grid.code", default=None, allow_null=True)
    channel = serializers.CharField()
    level = serializers.IntegerField(help_text="1 (very dissatisfied) to 5")
    scores = serializers.DictField(child=serializers.IntegerField())
    comment = serializers.CharField()
    period_key = serializers.CharField()
    created_at = serializers.DateTimeField()
    state = serializers.CharField(help_text="held | counted | rejected (after a decision)")
    rater = serializers.SerializerMethodField(help_text="account | phone | case: how the rater is known")
    real_name = serializers.BooleanField()
    household = serializers.SerializerMethodField(help_text="the rater's household, when the rating records one")
    reasons = serializers.SerializerMethodField()
    decided_at = serializers.DateTimeField(allow_null=True)
    decided_by = serializers.CharField(source="decided_by.username", default=None, allow_null=True)
    decision_note = serializers.CharField()

    def get_subject(self, rating) -> str:
        return selectors.subject_name(rating)

    def get_rater(self, rating) -> str:
        return selectors.rater_kind(rating)

    def get_household(self, rating) -> str | None:
        return rating.rater_household.address if rating.rater_household_id else None

    @extend_schema_field(HoldReasonSerializer(many=True))
    def get_reasons(self, rating) -> list[dict]:
        return HoldReasonSerializer(selectors.reasons_of(rating), many=True).data


@extend_schema_serializer(component_name="RatingsHeldContextRating")
class ContextRatingSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    level = serializers.IntegerField()
    state = serializers.CharField()
    channel = serializers.CharField()
    matches = serializers.ListField(child=serializers.CharField(), help_text="household | device | network")
    same_rater = serializers.BooleanField()


@extend_schema_serializer(component_name="RatingsHeldHistory")
class HistorySerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="the subject's counted ratings before this one")
    average = serializers.FloatField(allow_null=True)
    recent = serializers.ListField(child=serializers.IntegerField(), help_text="levels of the newest, newest first")


@extend_schema_serializer(component_name="RatingsHeldContext")
class ContextSerializer(serializers.Serializer):
    same_source = ContextRatingSerializer(many=True, help_text="the subject's ratings in the same period from the "
                                                               "same household, device or network")
    burst_minutes = serializers.IntegerField()
    around = serializers.IntegerField(help_text="the subject's live ratings within burst_minutes either side")
    history = HistorySerializer()


@extend_schema_serializer(component_name="RatingsHeldRatingDetail")
class HeldDetailSerializer(HeldRatingSerializer):
    context = serializers.SerializerMethodField()

    @extend_schema_field(ContextSerializer)
    def get_context(self, rating) -> dict:
        return ContextSerializer(selectors.held_context(rating)).data


class HeldFilter(django_filters.FilterSet):
    rule = django_filters.ChoiceFilter(choices=[(r, r) for r in RULES], method="by_rule")
    subject_kind = django_filters.ChoiceFilter(choices=[(SubjectKind.OFFICIAL.value, "official"),
                                                        (SubjectKind.MERCHANT.value, "merchant")])
    unit = django_filters.CharFilter(method="by_unit", help_text="a department, street, community or grid code")

    class Meta:
        model = Rating
        fields = []

    def by_rule(self, qs, name, value):
        return qs.filter(hold_reasons__contains=[{"rule": value}]) if value else qs

    def by_unit(self, qs, name, value):
        from django.db.models import Q

        value = (value or "").strip()
        if not value:
            return qs
        return qs.filter(Q(department__code=value) | Q(grid__code=value) | Q(community__code=value)
                         | Q(street__code=value))


class HeldList(generics.ListAPIView):
    """The held ratings the caller may decide, oldest first, each with its reasons. District
    administrators see all; community staff those of merchants in their area."""

    serializer_class = HeldRatingSerializer
    permission_classes = [Reviewers]
    filterset_class = HeldFilter
    ordering_fields = ["created_at", "id"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Rating.objects.none()
        return selectors.held_queue(self.request.user).select_related("decided_by")


def _held(request, pk: int) -> Rating:
    rating = get_object_or_404(Rating.objects.select_related(
        "official__department", "merchant", "department", "grid", "decided_by",
        "rater_household__building__compound").exclude(hold_reasons=[]), pk=pk)
    services.require_reviewer(request.user, rating)  # 403 in the one error shape
    return rating


class HeldDetail(APIView):
    permission_classes = [Reviewers]

    @extend_schema(summary="A held rating with its reasons and context", responses={200: HeldDetailSerializer})
    def get(self, request, pk: int):
        return Response(HeldDetailSerializer(_held(request, pk)).data)


@extend_schema_serializer(component_name="RatingsDecision")
class DecisionSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=[("release", "release"), ("reject", "reject")],
                                       help_text="release: it counts; reject: it never counts")
    note = serializers.CharField(max_length=services.NOTE_MAX, allow_blank=True, required=False, default="",
                                 help_text="why (required)")


class HeldDecide(APIView):
    permission_classes = [Reviewers]

    @extend_schema(summary="Release or reject a held rating", request=DecisionSerializer,
                   responses={200: HeldDetailSerializer})
    def post(self, request, pk: int):
        rating = _held(request, pk)
        data = DecisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.decide(actor=request.user, rating=rating, decision=data.validated_data["decision"],
                        note=data.validated_data["note"])
        return Response(HeldDetailSerializer(_held(request, pk)).data)


@extend_schema_serializer(component_name="RatingsScanRun")
class ScanRunSerializer(serializers.ModelSerializer):
    counts = serializers.DictField(child=serializers.IntegerField(), help_text="{rule: ratings it held}")
    status = serializers.CharField(help_text="queued | running | done | failed")

    class Meta:
        model = ScanRun
        fields = ["id", "status", "created_at", "started_at", "finished_at", "checked", "held", "counts", "seconds",
                  "error"]


class ScanStart(APIView):
    permission_classes = [HasRole(Role.DISTRICT_ADMIN)]

    @extend_schema(summary="Start the anti-gaming pass over the ledger", request=None,
                   responses={202: ScanRunSerializer})
    def post(self, request):
        run = services.start_scan(actor=request.user)
        return Response(ScanRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)
