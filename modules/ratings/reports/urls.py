"""Portal pages of ratings.reports (under /ratings/, namespace ``ratings``)."""
from django.urls import path

from modules.ratings.reports import views

urlpatterns = [
    path("me/official/", views.my_official, name="my-official"),
    path("me/merchant/", views.my_merchant, name="my-merchant"),
    path("department/", views.department, name="department"),
    path("staff/rankings/", views.rankings, name="rankings"),
    path("staff/rankings/export/", views.export, name="export"),
    path("staff/trends/", views.trends, name="trends"),
    path("staff/stars/", views.stars, name="stars"),
    path("stars/<str:token>/", views.certificate, name="certificate"),
]
