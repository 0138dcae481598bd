from django.urls import path

from accounts import views

app_name = "accounts"
urlpatterns = [
    path("invite/<str:token>/", views.invite, name="invite"),
]
