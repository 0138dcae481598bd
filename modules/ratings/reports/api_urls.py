"""API routes of ratings.reports, under /api/v1/ratings/ (namespace ``api-ratings``)."""
from django.urls import path

from modules.ratings.reports import api

urlpatterns = [
    path("scores/", api.Scores.as_view(), name="scores"),
    path("rankings/", api.Rankings.as_view(), name="rankings"),
    path("trends/", api.Trends.as_view(), name="trends"),
    path("department/", api.Department.as_view(), name="department"),
    path("me/official/", api.MyOfficial.as_view(), name="me-official"),
    path("me/merchant/", api.MyMerchant.as_view(), name="me-merchant"),
    path("stars/", api.Stars.as_view(), name="stars"),
    path("stars/<str:token>/", api.StarCertificate.as_view(), name="star"),
    path("stars/<str:token>/revoke/", api.StarRevoke.as_view(), name="star-revoke"),
]
