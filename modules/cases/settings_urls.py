from django.urls import path

from modules.cases import settings_views

urlpatterns = [
    path("figures/", settings_views.figures, name="figures"),
    path("settings/", settings_views.settings_home, name="settings"),
]
