"""The benefits API (under /api/v1/points/): a resident's benefits, the public honour list, the
provider's check of a personal code and the record of a use, and the administrator's providers,
staff and benefits. Thin views over ``benefits.services`` (writes) and ``benefits.selectors`` (reads); errors
come out in the one error shape, lists are paginated."""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from kernel import idempotency
from kernel.api import AnonThrottle, UserThrottle
from kernel.errors import DomainError
from kernel.filters import query_bool
from kernel.permissions import HasRole
from kernel.roles import Role
from modules.points.benefits import selectors as sel
from modules.points.benefits import services
from modules.points.ledger.services import resident_of
from modules.points.models import Benefit, LimitPeriod, Provider, ProviderKind

AdminOnly = HasRole(Role.DISTRICT_ADMIN)


def _tier(tier: dict | None) -> dict | None:
    """A tier as the API shows it: key and names (not its threshold: nothing about the balance)."""
    if not tier:
        return None
    return {"key": tier["key"], "name_zh": tier["name_zh"], "name_en": tier.get("name_en") or "",
            "name": sel.tier_name(tier)}


class TierSerializer(serializers.Serializer):
    key = serializers.CharField()
    name_zh = serializers.CharField()
    name_en = serializers.CharField()
    name = serializers.CharField(help_text="in the request's language")


# --- serializers ----------------------------------------------------------------------------------------

class BenefitSerializer(serializers.ModelSerializer):
    class Meta:
        model = Benefit
        fields = ["id", "provider", "title", "description", "min_tier", "limit_count", "limit_period", "active",
                  "valid_from", "valid_to"]
        read_only_fields = fields


class StaffSerializer(serializers.Serializer):
    user_id = serializers.IntegerField()
    username = serializers.CharField()
    display_name = serializers.CharField()


class ProviderSerializer(serializers.ModelSerializer):
    staff = serializers.SerializerMethodField()
    benefits = BenefitSerializer(many=True, read_only=True)

    class Meta:
        model = Provider
        fields = ["id", "name", "kind", "address", "phone", "active", "staff", "benefits"]
        read_only_fields = fields

    @extend_schema_field(StaffSerializer(many=True))
    def get_staff(self, obj) -> list[dict]:
        return [{"user_id": s.user_id, "username": s.user.username, "display_name": s.user.display_name}
                for s in obj.staff.all()]


class ProviderInput(serializers.Serializer):
    name = serializers.CharField(required=False, allow_blank=True)
    kind = serializers.ChoiceField(choices=ProviderKind.choices, required=False)
    address = serializers.CharField(required=False, allow_blank=True)
    phone = serializers.CharField(required=False, allow_blank=True)
    active = serializers.BooleanField(required=False)


class BenefitInput(serializers.Serializer):
    provider = serializers.IntegerField(required=False, help_text="on creation")
    title = serializers.CharField(required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True)
    min_tier = serializers.CharField(required=False, help_text="a key of the district's tiers")
    limit_count = serializers.IntegerField(required=False, allow_null=True, help_text="empty: no limit")
    limit_period = serializers.ChoiceField(choices=LimitPeriod.choices, required=False)
    active = serializers.BooleanField(required=False)
    valid_from = serializers.DateField(required=False, allow_null=True)
    valid_to = serializers.DateField(required=False, allow_null=True)


class MyBenefitSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    description = serializers.CharField()
    provider = inline_serializer("BenefitProvider", {"id": serializers.IntegerField(), "name": serializers.CharField(),
                                                     "kind": serializers.CharField()})
    min_tier = serializers.CharField()
    tier_name = serializers.CharField()
    unlocked = serializers.BooleanField(help_text="the resident's tier reaches it now")
    remaining = serializers.IntegerField(allow_null=True, help_text="uses left this period; null: no limit")
    limit_count = serializers.IntegerField(allow_null=True)
    limit_period = serializers.CharField()
    limit = serializers.CharField(help_text="the limit in words")
    valid_to = serializers.DateField(allow_null=True)


def _row(r: sel.BenefitRow) -> dict:
    b = r.benefit
    return {"id": b.pk, "title": b.title, "description": b.description,
            "provider": {"id": b.provider_id, "name": b.provider.name, "kind": b.provider.kind},
            "min_tier": b.min_tier, "tier_name": sel.tier_name(r.tier), "unlocked": r.unlocked,
            "remaining": r.remaining if r.unlocked else None, "limit_count": b.limit_count,
            "limit_period": b.limit_period, "limit": r.limit, "valid_to": b.valid_to}


class HonourSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    name = serializers.CharField(help_text="masked (张*明) or “A resident”")
    community = serializers.CharField()
    tier = serializers.CharField()
    tier_name = serializers.CharField()
    points = serializers.IntegerField(help_text="civic points")


class VerifyInput(serializers.Serializer):
    token = serializers.CharField(help_text="the scanned personal code")


VerifyOutput = inline_serializer("VerifyOutput", {
    "tier": TierSerializer(allow_null=True),
    "providers": serializers.ListField(child=inline_serializer("VerifyProvider", {
        "id": serializers.IntegerField(), "name": serializers.CharField(), "kind": serializers.CharField(),
        "benefits": MyBenefitSerializer(many=True)})),
})


class UseInput(serializers.Serializer):
    token = serializers.CharField()
    benefit = serializers.IntegerField()
    idempotency_key = serializers.CharField(required=False, max_length=idempotency.KEY_MAX,
                                            help_text=f"or the Idempotency-Key header. {idempotency.RULE}")


UseOutput = inline_serializer("UseOutput", {
    "id": serializers.IntegerField(), "benefit": serializers.IntegerField(), "provider": serializers.IntegerField(),
    "tier": serializers.CharField(), "at": serializers.DateTimeField(),
    "repeated": serializers.BooleanField(help_text="true: this key was recorded before; nothing new"),
})


class StaffInput(serializers.Serializer):
    username = serializers.CharField()


def _validated(serializer_class, request, *, partial: bool = False) -> dict:
    s = serializer_class(data=request.data, partial=partial)
    s.is_valid(raise_exception=True)
    return dict(s.validated_data)


# --- resident -------------------------------------------------------------------------------------------

class MyBenefits(generics.GenericAPIView):
    """GET: the signed-in resident's benefits in force, each with ``unlocked`` (their tier reaches it)
    and the uses left this period; with their tier and the next. POST (district administrator): a new
    benefit of a provider."""

    permission_classes = [IsAuthenticated]
    serializer_class = MyBenefitSerializer
    filter_backends: list = []
    error_statuses = [404]  # not a registered resident; an unknown provider

    @extend_schema(responses={200: MyBenefitSerializer(many=True)},
                   parameters=[OpenApiParameter("unlocked", bool, description="only those unlocked now")])
    def get(self, request):
        resident = resident_of(request.user)
        if resident is None:
            raise DomainError(_("Your account is not linked to a registered resident yet: bind your household first."),
                              code="no_resident", status=404)
        data = sel.benefits_for(resident)
        only_unlocked = query_bool(request, "unlocked")
        rows = [r for r in data.rows if r.unlocked or not only_unlocked]
        page = self.paginate_queryset(rows)
        response = self.get_paginated_response([_row(r) for r in page])
        response.data["tier"] = _tier(data.tier)
        response.data["next_tier"] = _tier(data.next_tier)
        response.data["to_next"] = data.to_next
        return response

    @extend_schema(request=BenefitInput, responses={201: BenefitSerializer})
    def post(self, request):
        data = _validated(BenefitInput, request)
        provider = get_object_or_404(Provider, pk=data.pop("provider", None) or 0)
        benefit = services.create_benefit(actor=request.user, provider=provider, **data)
        return Response(BenefitSerializer(benefit).data, status=status.HTTP_201_CREATED)


class BenefitDetail(APIView):
    """One benefit (district administrator). PATCH changes it; a benefit is never deleted — set
    ``active`` false to withdraw it (its uses are kept)."""

    permission_classes = [AdminOnly]

    @extend_schema(responses={200: BenefitSerializer})
    def get(self, request, pk: int):
        return Response(BenefitSerializer(get_object_or_404(Benefit, pk=pk)).data)

    @extend_schema(request=BenefitInput, responses={200: BenefitSerializer})
    def patch(self, request, pk: int):
        benefit = get_object_or_404(Benefit, pk=pk)
        data = _validated(BenefitInput, request, partial=True)
        data.pop("provider", None)
        benefit = services.update_benefit(actor=request.user, benefit=benefit, **data)
        return Response(BenefitSerializer(benefit).data)


# --- public honour list ------------------------------------------------------------------------------

class Honour(generics.ListAPIView):
    """The public honour list (光荣榜): residents who opted in and reached a tier, best first, names
    masked (张*明) or anonymous. ``community``: a community code."""

    permission_classes = [AllowAny]
    throttle_classes = [AnonThrottle, UserThrottle]
    serializer_class = HonourSerializer
    filter_backends: list = []

    @extend_schema(parameters=[OpenApiParameter("community", description="community code")])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def list(self, request, *args, **kwargs):
        qs = sel.honour_rows(community=(request.query_params.get("community") or "").strip()[:20] or None)
        page = self.paginate_queryset(qs)
        number = self.paginator.page.number
        offset = (number - 1) * self.paginator.page.paginator.per_page
        rows = [sel.honour_entry(row, offset + i + 1) for i, row in enumerate(page)]
        return self.get_paginated_response(HonourSerializer(rows, many=True).data)


# --- provider staff ------------------------------------------------------------------------------------

class Verify(APIView):
    """Provider staff check a scanned personal code: the resident's tier and, per provider of theirs,
    the benefits the resident may use now. Nothing personal. Not provider staff: 403
    ``not_provider_staff``; expired: 410 ``code_expired``; forged or another district's: 400
    ``code_invalid``."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=VerifyInput, responses={200: VerifyOutput})
    def post(self, request):
        token = str(request.data.get("token") or "")
        view = sel.provider_view(token, request.user)
        return Response({"tier": _tier(view.tier), "providers": [
            {"id": p.pk, "name": p.name, "kind": p.kind, "benefits": [_row(r) for r in rows]}
            for p, rows in view.providers]})


class Uses(APIView):
    """Provider staff record a use of one of their benefits by the resident whose code they scanned.
    201: recorded; 200 with ``repeated``: this ``idempotency_key`` (or, without one, this code and
    benefit) was recorded before. 409 ``tier_too_low`` / ``limit_reached`` / ``benefit_unavailable``."""

    permission_classes = [IsAuthenticated]
    error_statuses = [404]  # an unknown benefit

    @extend_schema(request=UseInput, parameters=[idempotency.openapi_parameter("The same as idempotency_key.")],
                   responses={201: UseOutput, 200: UseOutput})
    def post(self, request):
        data = _validated(UseInput, request)
        benefit = Benefit.objects.select_related("provider").filter(pk=data["benefit"]).first()
        if benefit is None:
            raise DomainError(_("There is no such benefit."), code="unknown_benefit",
                              fields={"benefit": [_("Unknown benefit.")]}, status=404)
        use, created = services.record_use(actor=request.user, token=data["token"], benefit=benefit,
                                           idempotency_key=idempotency.key_from(request, data))
        body = {"id": use.pk, "benefit": use.benefit_id, "provider": benefit.provider_id, "tier": use.tier,
                "at": use.at, "repeated": not created}
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


# --- district administrator -----------------------------------------------------------------------------

class Providers(generics.ListAPIView):
    """Benefit providers with their staff and benefits (district administrator); POST adds one."""

    permission_classes = [AdminOnly]
    serializer_class = ProviderSerializer
    filter_backends: list = []

    def get_queryset(self):
        return Provider.objects.order_by("kind", "name", "id").prefetch_related("benefits", "staff__user")

    @extend_schema(request=ProviderInput, responses={201: ProviderSerializer})
    def post(self, request):
        provider = services.create_provider(actor=request.user, **_validated(ProviderInput, request))
        return Response(ProviderSerializer(provider).data, status=status.HTTP_201_CREATED)


class ProviderDetail(APIView):
    permission_classes = [AdminOnly]

    @extend_schema(responses={200: ProviderSerializer})
    def get(self, request, pk: int):
        return Response(ProviderSerializer(get_object_or_404(Provider, pk=pk)).data)

    @extend_schema(request=ProviderInput, responses={200: ProviderSerializer})
    def patch(self, request, pk: int):
        provider = get_object_or_404(Provider, pk=pk)
        provider = services.update_provider(actor=request.user, provider=provider,
                                            **_validated(ProviderInput, request, partial=True))
        return Response(ProviderSerializer(provider).data)


class ProviderStaffList(APIView):
    """Add a district user (by username) as staff of the provider: they may check codes and record uses."""

    permission_classes = [AdminOnly]

    @extend_schema(request=StaffInput, responses={201: StaffSerializer, 200: StaffSerializer})
    def post(self, request, pk: int):
        provider = get_object_or_404(Provider, pk=pk)
        row, created = services.add_provider_staff(actor=request.user, provider=provider,
                                                   username=str(request.data.get("username") or ""))
        return Response({"user_id": row.user_id, "username": row.user.username, "display_name": row.user.display_name},
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class ProviderStaffMember(APIView):
    permission_classes = [AdminOnly]

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int, user_id: int):
        provider = get_object_or_404(Provider, pk=pk)
        user = get_object_or_404(get_user_model(), pk=user_id)
        if not services.remove_provider_staff(actor=request.user, provider=provider, user=user):
            raise DomainError(_("This user is not staff of the provider."), code="not_found", status=404)
        return Response(status=status.HTTP_204_NO_CONTENT)
