"""/api/v1/releases/ (public host, ops)."""
from django.urls import path

from tenants.releases import api

urlpatterns = [
    path("", api.Report.as_view(), name="releases-report"),
    path("runs/", api.Runs.as_view(), name="releases-runs"),
    path("runs/<int:pk>/", api.RunDetail.as_view(), name="releases-run"),
    path("<slug:slug>/retry/", api.Retry.as_view(), name="releases-retry"),
]
