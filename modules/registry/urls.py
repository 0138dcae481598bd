from django.urls import include, path

from modules.registry import views

urlpatterns = [
    path("me/", views.my_data, name="me"),
    path("", include("modules.registry.staff_urls")),  # ledger import and data audit pages
]
