from django.urls import include, path

from modules.points import api

urlpatterns = [
    path("me/", api.Me.as_view(), name="me"),
    path("rules/", api.Rules.as_view(), name="rules"),
    path("ranking/", api.Ranking.as_view(), name="ranking"),
    path("", include("modules.points.benefit_api_urls")),  # providers, benefits, uses, honour list
]
