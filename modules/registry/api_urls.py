from django.urls import include, path
from rest_framework.routers import SimpleRouter

from modules.registry import api

router = SimpleRouter()
router.register("streets", api.StreetViewSet, basename="street")
router.register("communities", api.CommunityViewSet, basename="community")
router.register("grids", api.GridViewSet, basename="grid")
router.register("compounds", api.CompoundViewSet, basename="compound")
router.register("buildings", api.BuildingViewSet, basename="building")
router.register("departments", api.DepartmentViewSet, basename="department")
router.register("households", api.HouseholdViewSet, basename="household")
router.register("residents", api.ResidentViewSet, basename="resident")
router.register("officials", api.OfficialViewSet, basename="official")
router.register("merchants", api.MerchantViewSet, basename="merchant")

urlpatterns = [
    path("me/", api.MyDataView.as_view(), name="me"),
    path("", include("modules.registry.ledger_urls")),  # ledger imports and data audits
    *router.urls,
]
