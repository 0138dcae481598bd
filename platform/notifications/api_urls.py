"""Mounted at /api/v1/me/messages/."""
from django.urls import path

from notifications import api

urlpatterns = [
    path("", api.MessageList.as_view(), name="my-messages"),
    path("unread-count/", api.UnreadCount.as_view(), name="my-messages-unread"),
    path("read-all/", api.MessageReadAll.as_view(), name="my-messages-read-all"),
    path("preferences/", api.Preferences.as_view(), name="my-message-preferences"),
    path("<int:pk>/read/", api.MessageRead.as_view(), name="my-message-read"),
]
