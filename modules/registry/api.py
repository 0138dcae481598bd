"""Registry API: places (filtered by place), households and residents (staff see their scope only),
officials, merchants, and a resident's own data."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.permissions import SAFE_METHODS, BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from kernel.errors import DomainError
from kernel.permissions import HasRole, has_role
from kernel.roles import STAFF_ROLES, Role
from modules.registry import selectors, services
from modules.registry.models import (
    Building,
    Community,
    Compound,
    Department,
    Grid,
    Household,
    Merchant,
    Official,
    Resident,
    Street,
)

Staff = HasRole(*STAFF_ROLES)


class AdminWritesStaffReads(BasePermission):
    message = "Staff of the district may read; only the district administrator may change places."

    def has_permission(self, request, view):
        if request.method in SAFE_METHODS:
            return has_role(request.user, *STAFF_ROLES)
        return has_role(request.user, Role.DISTRICT_ADMIN)


class StreetSerializer(serializers.ModelSerializer):
    class Meta:
        model = Street
        fields = ["id", "code", "name"]


class CommunitySerializer(serializers.ModelSerializer):
    street = serializers.SlugRelatedField(slug_field="code", queryset=Street.objects.all())

    class Meta:
        model = Community
        fields = ["id", "code", "name", "street", "police_contact"]


class GridSerializer(serializers.ModelSerializer):
    community = serializers.SlugRelatedField(slug_field="code", queryset=Community.objects.all())

    class Meta:
        model = Grid
        fields = ["id", "code", "name", "community", "worker", "duty_phone"]


class CompoundSerializer(serializers.ModelSerializer):
    grid = serializers.SlugRelatedField(slug_field="code", queryset=Grid.objects.all())
    community = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = Compound
        fields = ["id", "code", "name", "community", "grid", "property_company", "property_contact"]


class BuildingSerializer(serializers.ModelSerializer):
    class Meta:
        model = Building
        fields = ["id", "compound", "number", "grid"]


class DepartmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Department
        fields = ["id", "code", "name", "is_sector"]


class PlaceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                   viewsets.GenericViewSet):
    permission_classes = [AdminWritesStaffReads]
    create_service = None

    def create(self, request, *args, **kwargs):
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        obj = type(self).create_service(actor=request.user, **data.validated_data)
        return Response(self.get_serializer(obj).data, status=status.HTTP_201_CREATED)


class StreetViewSet(PlaceViewSet):
    queryset = Street.objects.all()
    serializer_class = StreetSerializer
    filterset_fields = ["code"]
    create_service = services.create_street


class CommunityViewSet(PlaceViewSet):
    queryset = Community.objects.select_related("street")
    serializer_class = CommunitySerializer
    filterset_fields = {"code": ["exact"], "street__code": ["exact"]}
    create_service = services.create_community


class GridViewSet(PlaceViewSet):
    queryset = Grid.objects.select_related("community")
    serializer_class = GridSerializer
    filterset_fields = {"code": ["exact"], "community__code": ["exact"], "community__street__code": ["exact"]}
    create_service = services.create_grid


class CompoundViewSet(PlaceViewSet):
    queryset = Compound.objects.select_related("community", "grid")
    serializer_class = CompoundSerializer
    filterset_fields = {"code": ["exact"], "grid__code": ["exact"], "community__code": ["exact"]}
    create_service = services.create_compound


class BuildingViewSet(PlaceViewSet):
    queryset = Building.objects.all()
    serializer_class = BuildingSerializer
    filterset_fields = {"compound": ["exact"], "grid__code": ["exact"]}
    create_service = services.create_building


class DepartmentViewSet(PlaceViewSet):
    queryset = Department.objects.all()
    serializer_class = DepartmentSerializer
    filterset_fields = ["is_sector"]
    create_service = services.create_department


class HouseholdSerializer(serializers.ModelSerializer):
    address = serializers.CharField(read_only=True)
    grid = serializers.SlugRelatedField(slug_field="code", read_only=True)
    residents = serializers.SerializerMethodField()

    class Meta:
        model = Household
        fields = ["id", "address", "building", "unit", "room", "grid", "registered_size", "residents"]

    def get_residents(self, household) -> int:
        return selectors.household_members(household).count()


class HouseholdViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                       viewsets.GenericViewSet):
    serializer_class = HouseholdSerializer
    permission_classes = [Staff]
    filterset_fields = {"grid__code": ["exact"], "grid__community__code": ["exact"], "building": ["exact"],
                        "building__compound__code": ["exact"]}

    def get_queryset(self):
        return selectors.households_for(self.request.user)

    def create(self, request, *args, **kwargs):
        if not has_role(request.user, Role.DISTRICT_ADMIN, Role.COMMUNITY_STAFF):
            raise DomainError("Only the district administrator and community staff add households.",
                              code="forbidden", status=403)
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        household = services.create_household(actor=request.user, **data.validated_data)
        return Response(self.get_serializer(household).data, status=status.HTTP_201_CREATED)


class ResidentSerializer(serializers.ModelSerializer):
    id_number = serializers.SerializerMethodField()
    phone = serializers.SerializerMethodField()
    households = serializers.SerializerMethodField()

    class Meta:
        model = Resident
        fields = ["id", "name", "id_number", "phone", "gender", "birth_date", "households"]

    def _full(self) -> bool:
        request = self.context.get("request")
        return bool(request and selectors.sees_full_id_numbers(request.user))

    def get_id_number(self, resident) -> str:
        return resident.id_number if self._full() else resident.id_number_masked

    def get_phone(self, resident) -> str:
        return resident.phone if self._full() else resident.phone_masked

    def get_households(self, resident) -> list[dict]:
        return [{"household": m.household_id, "relation": m.relation}
                for m in resident.memberships.all() if m.ended_at is None]


class NewResidentSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=40)
    id_number = serializers.CharField(max_length=32, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
    household = serializers.PrimaryKeyRelatedField(queryset=Household.objects.all(), required=False)
    relation = serializers.ChoiceField(choices=["head", "member", "tenant"], default="member")


class ResidentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ResidentSerializer
    permission_classes = [Staff]
    filterset_fields = {"memberships__household": ["exact"], "memberships__household__grid__code": ["exact"],
                        "name": ["exact"]}

    def get_queryset(self):
        return selectors.residents_for(self.request.user).prefetch_related("memberships")

    @extend_schema(request=NewResidentSerializer, responses={201: ResidentSerializer})
    def create(self, request):
        if not has_role(request.user, Role.DISTRICT_ADMIN, Role.COMMUNITY_STAFF):
            raise DomainError("Only the district administrator and community staff register residents.",
                              code="forbidden", status=403)
        data = NewResidentSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        household = v.get("household")
        if household is not None and not selectors.households_for(request.user).filter(pk=household.pk).exists():
            raise DomainError("household: outside your area.", code="forbidden", status=403)
        resident = services.register_resident(actor=request.user, name=v["name"], id_number=v.get("id_number"),
                                              phone=v.get("phone"), household=household, relation=v["relation"])
        return Response(ResidentSerializer(resident, context={"request": request}).data,
                        status=status.HTTP_201_CREATED)


class OfficialSerializer(serializers.ModelSerializer):
    department = serializers.SlugRelatedField(slug_field="code", queryset=Department.objects.all())
    # default=True also when a form leaves it out (DRF reads a missing form checkbox as false)
    active = serializers.BooleanField(default=True)

    class Meta:
        model = Official
        fields = ["id", "name", "department", "post", "active"]


class OfficialViewSet(PlaceViewSet):
    queryset = Official.objects.select_related("department")
    serializer_class = OfficialSerializer
    filterset_fields = {"department__code": ["exact"], "active": ["exact"]}
    create_service = services.create_official


class MerchantSerializer(serializers.ModelSerializer):
    grid = serializers.SlugRelatedField(slug_field="code", queryset=Grid.objects.all(), required=False,
                                        allow_null=True)
    active = serializers.BooleanField(default=True)  # also when a form leaves it out

    class Meta:
        model = Merchant
        fields = ["id", "name", "kind", "license_number", "address", "grid", "licensed_place", "licensed_hours",
                  "active"]


class MerchantViewSet(PlaceViewSet):
    queryset = Merchant.objects.select_related("grid")
    serializer_class = MerchantSerializer
    filterset_fields = {"kind": ["exact"], "grid__code": ["exact"], "active": ["exact"]}
    create_service = services.create_merchant


class MyDataSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=40, required=False)
    phone = serializers.CharField(max_length=32, required=False)
    id_number = serializers.CharField(max_length=32, required=False)


class MyDataView(APIView):
    """A resident sees and corrects their own registered data."""

    permission_classes = [IsAuthenticated]
    error_statuses = [404]  # not bound to a household yet

    def _resident(self, request) -> Resident:
        resident = Resident.objects.filter(user=request.user).first()
        if resident is None:
            raise DomainError("You are not bound to a household yet: scan your household code to bind.",
                              code="not_registered", status=404)
        return resident

    @extend_schema(responses={200: ResidentSerializer})
    def get(self, request):
        resident = self._resident(request)
        data = ResidentSerializer(resident, context={"request": request}).data
        data["id_number"] = resident.id_number_masked  # even to themselves, masked on screen
        return Response(data)

    @extend_schema(request=MyDataSerializer, responses={200: ResidentSerializer})
    def patch(self, request):
        resident = self._resident(request)
        data = MyDataSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        resident = services.correct_resident(actor=request.user, resident=resident, **data.validated_data)
        out = ResidentSerializer(resident, context={"request": request}).data
        out["id_number"] = resident.id_number_masked
        return Response(out)
