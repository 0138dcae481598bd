"""The resident's points pages, mounted at /points/ (namespace ``points``)."""
from django.urls import path

from modules.points import views_resident as views

urlpatterns = [
    path("", views.home, name="home"),
    path("entries/<int:entry_id>/appeal/", views.appeal, name="appeal"),
    path("appeals/", views.appeals, name="appeals"),
]
