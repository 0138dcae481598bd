"""/api/v1/lifecycle/ on the public host (tenants.lifecycle.api)."""
from django.urls import path

from tenants.lifecycle import api

app_name = "lifecycle-api"
urlpatterns = [
    path("districts/", api.DistrictList.as_view(), name="districts"),
    path("districts/<slug:slug>/", api.DistrictDetail.as_view(), name="district"),
    path("districts/<slug:slug>/archive/", api.Archive.as_view(), name="archive"),
    path("districts/<slug:slug>/exports/", api.Exports.as_view(), name="exports"),
    path("districts/<slug:slug>/delete/", api.Delete.as_view(), name="delete"),
    path("exports/<int:pk>/", api.ExportDetail.as_view(), name="export"),
    path("exports/<int:pk>/restore/", api.Restore.as_view(), name="restore"),
    path("exports/<int:pk>/files/<str:kind>/", api.ExportFile.as_view(), name="export-file"),
    path("tombstones/", api.TombstoneList.as_view(), name="tombstones"),
]
