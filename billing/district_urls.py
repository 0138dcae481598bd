"""/manage/billing/ on each district host: the district's own plan, state and invoices (admins)."""
from django.urls import path

from billing import district_api, district_views

app_name = "district-billing"
urlpatterns = [
    path("", district_views.district_billing, name="home"),
    path("api/", district_api.DistrictBillingView.as_view(), name="api"),
]
