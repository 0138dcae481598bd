from django.urls import path

from modules.cases import api

urlpatterns = [
    path("", api.CaseList.as_view(), name="list"),
    path("pool/", api.Pool.as_view(), name="pool"),
    path("figures/", api.Figures.as_view(), name="figures"),
    path("<int:pk>/", api.CaseDetail.as_view(), name="detail"),
    path("<int:pk>/duplicates/", api.Duplicates.as_view(), name="duplicates"),
    path("<int:pk>/<slug:action>/", api.CaseAction.as_view(), name="action"),
]
