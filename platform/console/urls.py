from django.urls import path

from console import views

app_name = "console"
urlpatterns = [
    path("", views.landing, name="landing"),
    path("login/", views.sign_in, name="login"),
    path("logout/", views.sign_out, name="logout"),
    path("console/", views.districts, name="districts"),
    path("console/districts/<slug:slug>/status/", views.district_status, name="district-status"),
]
