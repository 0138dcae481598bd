"""API routes of ratings.integrity (under /api/v1/ratings/): the held ratings and the anti-gaming pass."""
from django.urls import path

from modules.ratings.integrity import api

urlpatterns = [
    path("held/", api.HeldList.as_view(), name="held"),
    path("held/<int:pk>/", api.HeldDetail.as_view(), name="held-detail"),
    path("held/<int:pk>/decide/", api.HeldDecide.as_view(), name="held-decide"),
    path("scan/", api.ScanStart.as_view(), name="scan"),
]
