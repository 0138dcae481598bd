"""The ratings API under /api/v1/ratings/ (namespace ``api-ratings``): one set of routes per sub-package."""
from django.urls import include, path

urlpatterns = [
    path("", include("modules.ratings.ledger.api_urls")),  # rate, my ratings, a rating
    path("", include("modules.ratings.integrity.api_urls")),  # held ratings, decide, scan
    path("", include("modules.ratings.followup.api_urls")),  # follow-ups, callbacks, appeals, 追评, replies
    path("", include("modules.ratings.reports.api_urls")),  # scores, rankings, trends, stars
]
