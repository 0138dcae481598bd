"""Portal pages of ratings.followup (mounted at /ratings/, namespace ``ratings``)."""
from django.urls import path

from modules.ratings.followup import views

urlpatterns = [
    path("staff/follow-ups/", views.follow_ups, name="follow-ups"),
    path("staff/follow-ups/<int:pk>/", views.follow_up, name="follow-up"),
    path("staff/appeals/", views.appeals, name="appeals"),
    path("staff/appeals/<int:pk>/", views.appeal, name="appeal"),
    path("appeal/<int:rating_pk>/", views.appeal_new, name="appeal-new"),
    path("follow-on/<int:rating_pk>/", views.follow_on, name="follow-on"),
    path("reply/<int:rating_pk>/", views.reply, name="reply"),
]
