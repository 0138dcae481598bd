"""Award batch API routes, included by ``modules.points.api_urls`` under /api/v1/points/."""
from django.urls import path

from modules.points.batches import api

urlpatterns = [
    path("batches/", api.Batches.as_view(), name="batches"),
    path("batches/<int:pk>/", api.BatchDetail.as_view(), name="batch"),
    path("batches/<int:pk>/retry/", api.BatchRetry.as_view(), name="batch-retry"),
]
