from django.urls import path

from console import views

app_name = "console"
urlpatterns = [
    path("", views.landing, name="landing"),
    path("login/", views.sign_in, name="login"),
    path("logout/", views.sign_out, name="logout"),
    path("console/", views.districts, name="districts"),
    path("console/districts/<slug:slug>/", views.district_detail, name="district"),
    path("console/districts/<slug:slug>/status/", views.district_status, name="district-status"),
    path("console/districts/<slug:slug>/go-live/", views.district_go_live, name="district-go-live"),
    path("console/districts/<slug:slug>/invite/", views.district_invite, name="district-invite"),
]
