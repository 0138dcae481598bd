from django.urls import path

from modules.registry import views

urlpatterns = [
    path("me/", views.my_data, name="me"),
]
