from django.urls import path

from modules.notices import api

urlpatterns = [
    path("", api.NoticeList.as_view(), name="list"),
    path("<int:pk>/", api.NoticeDetail.as_view(), name="detail"),
]
