"""Portal pages of the cases module, mounted at /cases/."""
from django.urls import include, path

from modules.cases import views

urlpatterns = [
    path("report/", views.report, name="report"),
    path("mine/", views.mine, name="mine"),
    path("pool/", views.pool, name="pool"),
    path("", include("modules.cases.settings_urls")),  # settings and figures pages (settings_views)
]
