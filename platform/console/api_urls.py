from django.urls import path

from console import api

urlpatterns = [
    path("districts/", api.DistrictList.as_view(), name="districts"),
    path("districts/<slug:slug>/", api.DistrictDetail.as_view(), name="district"),
    path("districts/<slug:slug>/status/", api.DistrictStatus.as_view(), name="district-status"),
]
