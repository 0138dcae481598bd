"""The follow-up API (under /api/v1/ratings/): follow-ups and their callbacks, the callback rate,
appeals and their decisions, 追评 and merchants' replies. Thin: parse, call a service or selector,
answer; the services check role and scope."""
from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from kernel.errors import DomainError, NotAllowed
from kernel.permissions import has_role
from kernel.personal import mask_phone
from kernel.roles import Role
from modules.ratings.followup import selectors, services
from modules.ratings.followup.models import NOTE_MAX, Appeal, FollowUp, Reply
from modules.ratings.ledger.models import COMMENT_MAX, Rating


def _values(choices) -> str:
    return " | ".join(str(c) for c in choices)


@extend_schema_serializer(component_name="RatingsFollowUp")
class FollowUpSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    rating_id = serializers.IntegerField()
    subject_kind = serializers.CharField(source="rating.subject_kind")
    subject_name = serializers.SerializerMethodField()
    level = serializers.IntegerField(source="rating.level")
    comment = serializers.CharField(source="rating.comment")
    rated_at = serializers.DateTimeField(source="rating.created_at")
    real_name = serializers.BooleanField(source="rating.real_name")
    unit_kind = serializers.CharField()
    unit_code = serializers.CharField()
    case_id = serializers.IntegerField(allow_null=True)
    case_ref = serializers.CharField()
    due_at = serializers.DateTimeField(allow_null=True)
    overdue = serializers.SerializerMethodField()
    status = serializers.CharField(help_text=_values(FollowUp.Status.values))
    outcome = serializers.CharField(help_text=_values(FollowUp.Outcome.values) + " (empty while open)")
    fix_by = serializers.DateField(allow_null=True)
    reached = serializers.BooleanField(allow_null=True)
    note = serializers.CharField()
    called_at = serializers.DateTimeField(allow_null=True)
    rater_phone_masked = serializers.SerializerMethodField(help_text="the rater's phone, masked (to call them back)")
    opened_at = serializers.DateTimeField()

    def get_subject_name(self, obj) -> str:
        return services.subject_name(obj.rating)

    def get_overdue(self, obj) -> bool:
        return selectors.is_overdue(obj)

    def get_rater_phone_masked(self, obj) -> str:
        phone = selectors.rater_phone(obj)
        return mask_phone(phone) if phone else ""


@extend_schema_serializer(component_name="RatingsCallback")
class CallbackSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=FollowUp.Outcome.choices)
    reached = serializers.BooleanField(help_text="the rater was reached on the call")
    note = serializers.CharField(max_length=NOTE_MAX, help_text="what was said and done")
    fix_by = serializers.DateField(required=False, allow_null=True,
                                   help_text="fixed_by_deadline: the promised date (today or later)")


class _RateSerializer(serializers.Serializer):
    total = serializers.IntegerField(help_text="bad real-name ratings")
    called = serializers.IntegerField(help_text="of them called back")
    overdue = serializers.IntegerField(help_text="past the deadline, not called back")
    percent = serializers.FloatField(allow_null=True, help_text="called / total × 100; null when there are none")


@extend_schema_serializer(component_name="RatingsCallbackRateUnit")
class UnitRateSerializer(_RateSerializer):
    unit_kind = serializers.CharField()
    unit_code = serializers.CharField()


@extend_schema_serializer(component_name="RatingsCallbackRate")
class CallbackRateSerializer(serializers.Serializer):
    overall = _RateSerializer()
    units = UnitRateSerializer(many=True)


@extend_schema_serializer(component_name="RatingsAppeal")
class AppealSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    rating_id = serializers.IntegerField()
    level = serializers.IntegerField(source="rating.level")
    comment = serializers.CharField(source="rating.comment")
    rating_state = serializers.CharField(source="rating.state")
    reason = serializers.CharField()
    status = serializers.CharField(help_text=_values(Appeal.Status.values))
    decision_reason = serializers.CharField()
    decided_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


@extend_schema_serializer(component_name="RatingsAppealNew")
class AppealNewSerializer(serializers.Serializer):
    rating = serializers.IntegerField(help_text="the rating appealed (one of the caller's)")
    reason = serializers.CharField(max_length=NOTE_MAX)


@extend_schema_serializer(component_name="RatingsAppealDecision")
class DecideSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=[Appeal.Status.UPHELD, Appeal.Status.DISMISSED])
    reason = serializers.CharField(max_length=NOTE_MAX)


@extend_schema_serializer(component_name="RatingsFollowOnNew")
class FollowOnSerializer(serializers.Serializer):
    level = serializers.IntegerField(min_value=1, max_value=5)
    comment = serializers.CharField(max_length=COMMENT_MAX, required=False, allow_blank=True, default="")
    scores = serializers.DictField(child=serializers.IntegerField(min_value=1, max_value=5), required=False,
                                   help_text="{dimension key: level} of the district's dimensions")


@extend_schema_serializer(component_name="RatingsFollowOn")
class FollowOnResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    follow_on_of_id = serializers.IntegerField()
    level = serializers.IntegerField()
    comment = serializers.CharField()
    state = serializers.CharField()
    created_at = serializers.DateTimeField()


@extend_schema_serializer(component_name="RatingsReply")
class ReplySerializer(serializers.Serializer):
    rating_id = serializers.IntegerField(read_only=True)
    text = serializers.CharField(max_length=NOTE_MAX)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


def _valid(serializer_class, request):
    """The request's body, checked for shape (the services check the rules)."""
    s = serializer_class(data=request.data)
    if not s.is_valid():
        raise DomainError(_("Check the highlighted fields."),
                          fields={k: [str(m) for m in v] for k, v in s.errors.items()})
    return s.validated_data


# --- follow-ups -------------------------------------------------------------------------------------

class FollowUps(generics.ListAPIView):
    """The follow-ups of the caller's units (district admins: all), open ones first."""

    serializer_class = FollowUpSerializer

    @extend_schema(parameters=[OpenApiParameter("status", enum=FollowUp.Status.values)])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        wanted = self.request.query_params.get("status") or None
        if wanted and wanted not in FollowUp.Status.values:
            raise DomainError(_("Unknown status."), fields={"status": [_values(FollowUp.Status.values)]})
        return selectors.follow_ups_for(self.request.user, status=wanted)


class FollowUpDetail(APIView):
    @extend_schema(responses={200: FollowUpSerializer})
    def get(self, request, pk: int):
        follow_up = selectors.follow_up_for(request.user, pk)
        if follow_up is None:
            raise DomainError(_("Not found."), code="not_found", status=404)
        return Response(FollowUpSerializer(follow_up).data)


class Callback(APIView):
    @extend_schema(summary="Record the callback (回访) of a bad rating", request=CallbackSerializer,
                   responses={200: FollowUpSerializer})
    def post(self, request, pk: int):
        follow_up = get_object_or_404(FollowUp.objects.select_related("rating"), pk=pk)  # the service: 403
        data = _valid(CallbackSerializer, request)
        follow_up = services.record_callback(actor=request.user, follow_up=follow_up, outcome=data["outcome"],
                                             note=data["note"], reached=data["reached"], fix_by=data.get("fix_by"))
        return Response(FollowUpSerializer(selectors.follow_up_for(request.user, follow_up.pk)).data)


class Rate(APIView):
    @extend_schema(summary="The callback rate of bad real-name ratings (the caller's units)",
                   responses={200: CallbackRateSerializer})
    def get(self, request):
        units = selectors.units_of(request.user)
        rate = selectors.callback_rate(units=units)

        def row(r, **extra):
            return {"total": r.total, "called": r.called, "overdue": r.overdue, "percent": r.percent, **extra}

        return Response({"overall": row(rate.overall),
                         "units": [row(r, unit_kind=k, unit_code=c) for k, c, _name, r in rate.units]})


# --- appeals ----------------------------------------------------------------------------------------

class Appeals(generics.ListCreateAPIView):
    """Reviewers see every appeal; the rated person their own. POST: the rated person appeals."""

    serializer_class = AppealSerializer

    @extend_schema(parameters=[OpenApiParameter("status", enum=Appeal.Status.values)])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        wanted = self.request.query_params.get("status") or None
        if wanted and wanted not in Appeal.Status.values:
            raise DomainError(_("Unknown status."), fields={"status": [_values(Appeal.Status.values)]})
        return selectors.appeals_for(self.request.user, status=wanted)

    @extend_schema(summary="Appeal a rating of yours", request=AppealNewSerializer, responses={201: AppealSerializer})
    def post(self, request, *args, **kwargs):
        data = _valid(AppealNewSerializer, request)
        rating = Rating.objects.filter(pk=data["rating"]).select_related("official", "merchant").first()
        if rating is None:
            raise DomainError(_("There is no such rating."), fields={"rating": [_("Not found.")]})
        appeal = services.file_appeal(actor=request.user, rating=rating, reason=data["reason"])
        return Response(AppealSerializer(appeal).data, status=status.HTTP_201_CREATED)


class AppealDetail(APIView):
    @extend_schema(responses={200: AppealSerializer})
    def get(self, request, pk: int):
        appeal = get_object_or_404(selectors.appeals_for(request.user), pk=pk)
        return Response(AppealSerializer(appeal).data)


class Decide(APIView):
    @extend_schema(summary="Decide an appeal (district administrator)", request=DecideSerializer,
                   responses={200: AppealSerializer})
    def post(self, request, pk: int):
        if not has_role(request.user, Role.DISTRICT_ADMIN):
            raise NotAllowed(_("Only a reviewer (district administrator) may decide appeals."))
        appeal = get_object_or_404(Appeal, pk=pk)
        data = _valid(DecideSerializer, request)
        appeal = services.decide_appeal(actor=request.user, appeal=appeal, decision=data["decision"],
                                        reason=data["reason"])
        return Response(AppealSerializer(appeal).data)


# --- 追评, replies -------------------------------------------------------------------------------------

def _rating(pk: int) -> Rating:
    return get_object_or_404(Rating.objects.select_related("official", "merchant"), pk=pk)


class FollowOn(APIView):
    @extend_schema(summary="Add the one follow-up rating (追评) to a rating of yours, after its callback",
                   request=FollowOnSerializer, responses={201: FollowOnResultSerializer})
    def post(self, request, pk: int):
        rating = _rating(pk)
        if rating.rater_id != request.user.pk:
            raise DomainError(_("Not found."), code="not_found", status=404)
        data = _valid(FollowOnSerializer, request)
        new = services.add_follow_on(actor=request.user, rating=rating, level=data["level"],
                                     comment=data.get("comment", ""), scores=data.get("scores"))
        return Response(FollowOnResultSerializer(new).data, status=status.HTTP_201_CREATED)


class ReplyView(APIView):
    @extend_schema(responses={200: ReplySerializer})
    def get(self, request, pk: int):
        reply = get_object_or_404(Reply, rating_id=pk)
        return Response(ReplySerializer(reply).data)

    @extend_schema(summary="Write or edit the merchant's reply to a rating (the merchant's owner)",
                   request=ReplySerializer, responses={200: ReplySerializer})
    def put(self, request, pk: int):
        data = _valid(ReplySerializer, request)
        reply = services.save_reply(actor=request.user, rating=_rating(pk), text=data["text"])
        return Response(ReplySerializer(reply).data)
