"""Committee API routes (proposals, appeals), included by ``modules.points.api_urls`` under /api/v1/points/."""
from django.urls import path

from modules.points.committee import api

urlpatterns = [
    path("proposals/", api.Proposals.as_view(), name="proposals"),
    path("proposals/<int:pk>/", api.ProposalDetail.as_view(), name="proposal"),
    path("proposals/<int:pk>/approve/", api.ProposalApprove.as_view(), name="proposal-approve"),
    path("proposals/<int:pk>/reject/", api.ProposalReject.as_view(), name="proposal-reject"),
    path("proposals/<int:pk>/withdraw/", api.ProposalWithdraw.as_view(), name="proposal-withdraw"),
    path("appeals/", api.Appeals.as_view(), name="appeals"),
    path("appeals/<int:pk>/", api.AppealDetail.as_view(), name="appeal"),
    path("appeals/<int:pk>/uphold/", api.AppealUphold.as_view(), name="appeal-uphold"),
    path("appeals/<int:pk>/refuse/", api.AppealRefuse.as_view(), name="appeal-refuse"),
]
