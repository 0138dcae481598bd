"""Platform API (public host): the districts, for platform staff."""
from __future__ import annotations

from rest_framework import generics, serializers

from kernel.permissions import IsPlatformStaff
from tenants.models import District
from tenants.selectors import district_kpis, districts_for_console


class DistrictSerializer(serializers.ModelSerializer):
    domains = serializers.SlugRelatedField(many=True, read_only=True, slug_field="domain")

    class Meta:
        model = District
        fields = ["slug", "name_zh", "name_en", "status", "modules", "domains", "schema_name", "created_at",
                  "status_changed_at"]


class DistrictList(generics.ListAPIView):
    permission_classes = [IsPlatformStaff]
    serializer_class = DistrictSerializer
    filterset_fields = ["status"]
    ordering_fields = ["slug", "created_at"]

    def get_queryset(self):
        return districts_for_console()


class DistrictDetailSerializer(DistrictSerializer):
    kpis = serializers.SerializerMethodField()

    class Meta(DistrictSerializer.Meta):
        fields = [*DistrictSerializer.Meta.fields, "kpis"]

    def get_kpis(self, district) -> dict:
        return district_kpis(district) if district.is_serving else {}


class DistrictDetail(generics.RetrieveAPIView):
    permission_classes = [IsPlatformStaff]
    serializer_class = DistrictDetailSerializer
    lookup_field = "slug"

    def get_queryset(self):
        return districts_for_console()


class StatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["active", "past_due", "suspended", "archived"])
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class DistrictStatus(generics.GenericAPIView):
    """Suspend, resume or archive a district. The transition is checked and audited."""

    permission_classes = [IsPlatformStaff]
    serializer_class = StatusSerializer

    def post(self, request, slug: str):
        from django.shortcuts import get_object_or_404
        from rest_framework.response import Response

        from tenants.services import set_status

        district = get_object_or_404(districts_for_console(), slug=slug)
        data = StatusSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        district = set_status(actor=request.user, district=district, **data.validated_data)
        return Response(DistrictSerializer(district).data)
