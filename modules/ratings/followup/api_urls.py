"""API routes of ratings.followup (under /api/v1/ratings/, namespace ``api-ratings``)."""
from django.urls import path

from modules.ratings.followup import api

urlpatterns = [
    path("follow-ups/", api.FollowUps.as_view(), name="follow-ups"),
    path("follow-ups/rate/", api.Rate.as_view(), name="follow-up-rate"),
    path("follow-ups/<int:pk>/", api.FollowUpDetail.as_view(), name="follow-up"),
    path("follow-ups/<int:pk>/callback/", api.Callback.as_view(), name="follow-up-callback"),
    path("appeals/", api.Appeals.as_view(), name="appeals"),
    path("appeals/<int:pk>/", api.AppealDetail.as_view(), name="appeal"),
    path("appeals/<int:pk>/decide/", api.Decide.as_view(), name="appeal-decide"),
    path("ratings/<int:pk>/follow-on/", api.FollowOn.as_view(), name="follow-on"),
    path("ratings/<int:pk>/reply/", api.ReplyView.as_view(), name="reply"),
]
