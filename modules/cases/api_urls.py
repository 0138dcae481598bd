from django.urls import include, path

from modules.cases import api

urlpatterns = [
    path("", api.CaseList.as_view(), name="list"),
    path("pool/", api.Pool.as_view(), name="pool"),
    path("categories/", api.Categories.as_view(), name="categories"),
    path("figures/", api.Figures.as_view(), name="figures"),
    path("<int:pk>/", api.CaseDetail.as_view(), name="detail"),
    path("<int:pk>/duplicates/", api.Duplicates.as_view(), name="duplicates"),
    path("", include("modules.cases.intake.integration_urls")),  # intake/, integrations/
    path("", include("modules.cases.attachment_urls")),  # <pk>/attachments/ (before the action route)
    path("<int:pk>/<slug:action>/", api.CaseAction.as_view(), name="action"),
]
