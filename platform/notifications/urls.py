"""Portal pages of the inbox, mounted at /messages/ (namespace ``notifications``)."""
from django.urls import path

from notifications import views

app_name = "notifications"
urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("read-all/", views.read_all, name="read-all"),
    path("preferences/", views.preferences, name="preferences"),
    path("<int:pk>/read/", views.read, name="read"),
    path("<int:pk>/open/", views.open_link, name="open"),
]
