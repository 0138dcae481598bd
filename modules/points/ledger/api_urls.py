"""Ledger API routes, included by ``modules.points.api_urls`` under /api/v1/points/ (namespace ``api-points``)."""
from django.urls import path

from modules.points.ledger import api

urlpatterns = [
    path("me/", api.Me.as_view(), name="me"),
    path("rules/", api.Rules.as_view(), name="rules"),
    path("rules/<slug:code>/", api.RuleDetail.as_view(), name="rule"),
    path("rules/<slug:code>/revise/", api.RuleRevise.as_view(), name="rule-revise"),
    path("ranking/", api.Ranking.as_view(), name="ranking"),
    path("entries/", api.Entries.as_view(), name="entries"),
    path("entries/<int:pk>/", api.EntryDetail.as_view(), name="entry"),
    path("entries/<int:pk>/reverse/", api.EntryReverse.as_view(), name="entry-reverse"),
]
