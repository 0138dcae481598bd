"""The onboarding API, at /api/v1/onboarding/ on the public host."""
from django.urls import path

from onboarding import api

app_name = "onboarding-api"
urlpatterns = [
    path("applications/", api.ApplicationList.as_view(), name="applications"),
    path("applications/<int:pk>/", api.ApplicationDetail.as_view(), name="application"),
    path("applications/<int:pk>/submit/", api.ApplicationSubmit.as_view(), name="submit"),
    path("applications/<int:pk>/withdraw/", api.ApplicationWithdraw.as_view(), name="withdraw"),
    path("applications/<int:pk>/comments/", api.CommentList.as_view(), name="comments"),
    path("applications/<int:pk>/approve/", api.ApplicationApprove.as_view(), name="approve"),
    path("applications/<int:pk>/return/", api.ApplicationReturn.as_view(), name="return"),
    path("applications/<int:pk>/progress/", api.ApplicationProgress.as_view(), name="progress"),
    path("applications/<int:pk>/retry/", api.ApplicationRetry.as_view(), name="retry"),
]
