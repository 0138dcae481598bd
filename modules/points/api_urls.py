"""The points API under /api/v1/points/ (namespace ``api-points``): one set of routes per sub-package."""
from django.urls import include, path

urlpatterns = [
    path("", include("modules.points.ledger.api_urls")),  # me, rules, ranking, entries
    path("", include("modules.points.committee.api_urls")),  # proposals, appeals
    path("", include("modules.points.batches.api_urls")),  # batches
    path("", include("modules.points.benefits.api_urls")),  # providers, benefits, uses, honour list
]
