"""API routes of ratings.ledger, under /api/v1/ratings/ (namespace ``api-ratings``)."""
from django.urls import path

from modules.ratings.ledger import api

urlpatterns = [
    path("", api.Rate.as_view(), name="rate"),
    path("mine/", api.MyRatings.as_view(), name="mine"),
    path("mine/<int:pk>/", api.MyRating.as_view(), name="mine-detail"),
]
