"""Portal pages of the points module, mounted at /points/. Three groups, each in its own file:
the resident's pages (balance, history, appeals), the staff pages (propose, committee, batches,
rulebook) and the benefit pages (tier benefits, personal code, provider scan, honour list)."""
from django.urls import include, path

urlpatterns = [
    path("", include("modules.points.resident_urls")),
    path("staff/", include("modules.points.staff_urls")),
    path("", include("modules.points.benefit_urls")),
]
