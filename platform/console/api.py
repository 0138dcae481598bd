"""Platform API (public host): the districts, for platform staff."""
from __future__ import annotations

from rest_framework import generics, serializers

from tenants.access import OPS, HasPlatformRole, districts_for
from tenants.models import District
from tenants.selectors import district_kpis
from tenants.services import MANUAL_STATUSES


class DistrictSerializer(serializers.ModelSerializer):
    domains = serializers.SlugRelatedField(many=True, read_only=True, slug_field="domain")

    class Meta:
        model = District
        fields = ["slug", "name_zh", "name_en", "status", "modules", "domains", "schema_name", "created_at",
                  "status_changed_at", "live_at", "vendor"]

    vendor = serializers.SlugRelatedField(read_only=True, slug_field="slug", allow_null=True)


class DistrictList(generics.ListAPIView):
    """The districts the caller may see: every one for ops and finance, a vendor's own for a vendor."""

    permission_classes = [HasPlatformRole.of()]
    serializer_class = DistrictSerializer
    filterset_fields = ["status"]
    ordering_fields = ["slug", "created_at"]

    def get_queryset(self):
        return districts_for(self.request.user)


class DistrictDetailSerializer(DistrictSerializer):
    kpis = serializers.SerializerMethodField()

    class Meta(DistrictSerializer.Meta):
        fields = [*DistrictSerializer.Meta.fields, "kpis"]

    def get_kpis(self, district) -> dict:
        return district_kpis(district) if district.is_serving else {}


class DistrictDetail(generics.RetrieveAPIView):
    permission_classes = [HasPlatformRole.of()]
    serializer_class = DistrictDetailSerializer
    lookup_field = "slug"

    def get_queryset(self):
        return districts_for(self.request.user)


class StatusSerializer(serializers.Serializer):
    # Archiving is the lifecycle's (POST /api/v1/lifecycle/…): it also records the retention period.
    status = serializers.ChoiceField(choices=MANUAL_STATUSES)
    reason = serializers.CharField(max_length=500, help_text="Why: kept in the audit log.")


class DistrictStatus(generics.GenericAPIView):
    """Suspend or resume a district (platform staff only; archive it through the lifecycle API). The transition is checked, the
    reason required, and both audited."""

    permission_classes = [HasPlatformRole.of(OPS)]
    serializer_class = StatusSerializer

    def post(self, request, slug: str):
        from django.shortcuts import get_object_or_404
        from rest_framework.response import Response

        from tenants.services import set_status

        district = get_object_or_404(districts_for(request.user), slug=slug)
        data = StatusSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        district = set_status(actor=request.user, district=district, **data.validated_data)
        return Response(DistrictSerializer(district).data)
