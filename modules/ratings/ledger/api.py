"""The ledger API under /api/v1/ratings/ — thin views over ``ledger.services`` and ``ledger.selectors``.

- ``POST /api/v1/ratings/``: rate an official or a merchant (by the ``code`` token scanned, or by
  ``subject_kind`` + ``subject_id``). 201 with the rating; the same Idempotency-Key again answers 200
  with the first rating. A second rating of the same subject in the period replaces the first.
- ``GET /api/v1/ratings/mine/`` and ``/mine/<id>/``: the caller's own ratings, with their state and
  follow-up (the outcome of a bad rating's callback).
Errors come out in the one error shape; every endpoint needs a signed-in user, and the service checks
who may rate (the district's ``raters`` setting)."""
from __future__ import annotations

from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from kernel import idempotency
from kernel.errors import DomainError
from modules.ratings.ledger import selectors, services
from modules.ratings.ledger.models import COMMENT_MAX, Channel, Rating, State, SubjectKind

DEVICE_COOKIE = "rt_device"


def client_ip(request) -> str:
    """The caller's address as the throttles see it (REMOTE_ADDR, or X-Forwarded-For behind
    NUM_PROXIES trusted proxies)."""
    from rest_framework.throttling import BaseThrottle

    return BaseThrottle().get_ident(request) or ""


_enum_fields: dict[tuple, type] = {}


def enum_field(values, **kwargs) -> serializers.CharField:
    """Text documented inline with its values (no shared enum component to clash with other modules');
    the services check the values."""
    values = tuple(str(v) for v in values)
    cls = _enum_fields.get(values)
    if cls is None:
        cls = _enum_fields[values] = extend_schema_field({"type": "string", "enum": list(values)})(
            type("RatingsEnumText", (serializers.CharField,), {}))
    return cls(**kwargs)


class FollowUpSerializer(serializers.Serializer):
    status = enum_field(["open", "done"], help_text="open: awaiting the callback")
    status_label = serializers.CharField()
    outcome = serializers.CharField(help_text="fixed_now | fixed_by_deadline | explained; '' while open")
    outcome_label = serializers.CharField()
    fix_by = serializers.DateField(allow_null=True)
    note = serializers.CharField(help_text="what the unit told the rater")
    due_at = serializers.DateTimeField(allow_null=True)
    called_at = serializers.DateTimeField(allow_null=True)


def follow_up_data(rating: Rating) -> dict | None:
    follow = getattr(rating, "follow_up", None) if _has_follow_up(rating) else None
    if follow is None:
        return None
    return {"status": follow.status, "status_label": str(follow.get_status_display()), "outcome": follow.outcome,
            "outcome_label": str(follow.get_outcome_display()) if follow.outcome else "", "fix_by": follow.fix_by,
            "note": follow.note, "due_at": follow.due_at, "called_at": follow.called_at}


def _has_follow_up(rating: Rating) -> bool:
    from django.core.exceptions import ObjectDoesNotExist

    try:
        return rating.follow_up is not None
    except ObjectDoesNotExist:
        return False


class RatingSerializer(serializers.ModelSerializer):
    """A rating as its rater sees it (never the anti-gaming details: those are for the reviewer)."""

    subject_name = serializers.SerializerMethodField()
    department = serializers.SerializerMethodField(help_text="the official's department code, when rated")
    level_label = serializers.SerializerMethodField()
    state_label = serializers.SerializerMethodField()
    replaced_by = serializers.SerializerMethodField(help_text="the later rating that replaced this one")
    follow_up = serializers.SerializerMethodField()
    subject_kind = enum_field(SubjectKind.values)
    channel = enum_field(Channel.values)
    state = enum_field(State.values, help_text="counted | held (being checked) | rejected | removed | superseded")
    level = serializers.IntegerField(min_value=1, max_value=5)

    class Meta:
        model = Rating
        fields = ["id", "subject_kind", "official", "merchant", "subject_name", "department", "channel", "level",
                  "level_label", "scores", "comment", "state", "state_label", "period_key", "case_ref", "replaces",
                  "replaced_by", "created_at", "follow_up"]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField())
    def get_subject_name(self, obj) -> str:
        subject = obj.subject
        return subject.name if subject is not None else (obj.grid.name if obj.grid_id else "")

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_department(self, obj):
        return obj.department.code if obj.department_id else None

    def get_level_label(self, obj) -> str:
        return str(obj.get_level_display())

    def get_state_label(self, obj) -> str:
        return str(obj.get_state_display())

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_replaced_by(self, obj):
        from django.core.exceptions import ObjectDoesNotExist

        try:
            return obj.replaced_by.pk  # selected with the rating (selectors.ratings_of)
        except ObjectDoesNotExist:
            return None

    @extend_schema_field(FollowUpSerializer(allow_null=True))
    def get_follow_up(self, obj):
        return follow_up_data(obj)


class RateSerializer(serializers.Serializer):
    code = serializers.CharField(required=False, allow_blank=True, max_length=64,
                                 help_text="the token of the official's, merchant's or stall's code scanned")
    subject_kind = enum_field([SubjectKind.OFFICIAL, SubjectKind.MERCHANT], required=False,
                              help_text="with subject_id, instead of code")
    subject_id = serializers.IntegerField(required=False, min_value=1)
    level = serializers.IntegerField(min_value=1, max_value=5, help_text="5 very satisfied, 4 satisfied, 3 fairly satisfied, 2 dissatisfied, 1 very dissatisfied")
    scores = serializers.DictField(child=serializers.IntegerField(min_value=1, max_value=5), required=False,
                                   help_text="{dimension key: level} of the district's dimensions; the ones "
                                             "left out take the overall level")
    comment = serializers.CharField(required=False, allow_blank=True, max_length=COMMENT_MAX, default="")
    channel = enum_field([Channel.OFFICIAL_CODE, Channel.MERCHANT_CODE, Channel.ON_SITE], required=False,
                         help_text="default: the subject's code channel")
    device_id = serializers.CharField(required=False, allow_blank=True, max_length=200, default="",
                                      help_text="a stable id of the app install (kept only as a keyed hash)")
    idempotency_key = serializers.CharField(required=False, allow_blank=True, max_length=idempotency.KEY_MAX,
                                            help_text=f"or the Idempotency-Key header. {idempotency.RULE}")

    def subject(self) -> tuple:
        data = self.validated_data
        try:
            if data.get("code"):
                _kind, official, merchant, _code = selectors.subject_of_code(data["code"])
                return official, merchant
            if data.get("subject_kind") and data.get("subject_id"):
                return selectors.subject_by_id(data["subject_kind"], data["subject_id"])
        except selectors.NoSubject:
            field = "code" if data.get("code") else "subject_id"
            raise DomainError(_("There is nobody to rate by this code."), code="unknown_subject",
                              fields={field: [_("Not found.")]}) from None
        raise DomainError(_("Say whom you rate: the code scanned, or subject_kind and subject_id."),
                          fields={"code": [_("Required.")]})


class Rate(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(summary="Rate an official or a merchant", request=RateSerializer,
                   parameters=[idempotency.openapi_parameter()],
                   responses={201: RatingSerializer, 200: RatingSerializer})
    def post(self, request):
        key = idempotency.key_from(request, request.data)  # 400 for a bad key, before the body's checks
        body = RateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        official, merchant = body.subject()
        rating = services.submit_rating(
            actor=request.user, official=official, merchant=merchant, level=data["level"], scores=data.get("scores"),
            comment=data.get("comment", ""), channel=data.get("channel"),
            device_id=data.get("device_id") or request.COOKIES.get(DEVICE_COOKIE, ""), client_ip=client_ip(request),
            idempotency_key=key)
        return Response(RatingSerializer(rating).data,
                        status=status.HTTP_201_CREATED if idempotency.created(rating) else status.HTTP_200_OK)


class MyRatings(generics.ListAPIView):
    """The caller's own ratings, newest first (replaced ones included, marked ``superseded``)."""

    serializer_class = RatingSerializer
    permission_classes = [IsAuthenticated]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Rating.objects.none()
        return selectors.ratings_of(self.request.user).select_related("department", "grid")

    @extend_schema(summary="My ratings")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class MyRating(generics.RetrieveAPIView):
    """One of the caller's ratings, with its state and the follow-up of a bad one."""

    serializer_class = RatingSerializer
    permission_classes = [IsAuthenticated]

    def get_object(self):
        rating = selectors.rating_of(self.request.user, self.kwargs["pk"])
        if rating is None:
            raise Http404
        return rating

    @extend_schema(summary="One of my ratings")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


