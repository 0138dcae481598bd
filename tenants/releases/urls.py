"""/console/releases/: the migration report and retries (ops)."""
from django.urls import path

from tenants.releases import views

app_name = "releases"
urlpatterns = [
    path("", views.report, name="report"),
    path("<slug:slug>/retry/", views.retry, name="retry"),
]
