"""Portal pages of ratings.integrity, mounted at /ratings/ (namespace ``ratings``): the held ratings."""
from django.urls import path

from modules.ratings.integrity import views

urlpatterns = [
    path("staff/held/", views.held, name="held"),
    path("staff/held/<int:pk>/", views.held_detail, name="held-detail"),
]
