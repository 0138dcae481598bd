"""Benefits API routes, included by ``api_urls`` under /api/v1/points/ (namespace ``api-points``)."""
from django.urls import path

from modules.points.benefits import api

urlpatterns = [
    path("benefits/", api.MyBenefits.as_view(), name="benefits"),
    path("benefits/<int:pk>/", api.BenefitDetail.as_view(), name="benefit"),
    path("honour/", api.Honour.as_view(), name="honour"),
    path("verify/", api.Verify.as_view(), name="verify"),
    path("uses/", api.Uses.as_view(), name="uses"),
    path("providers/", api.Providers.as_view(), name="providers"),
    path("providers/<int:pk>/", api.ProviderDetail.as_view(), name="provider"),
    path("providers/<int:pk>/staff/", api.ProviderStaffList.as_view(), name="provider-staff"),
    path("providers/<int:pk>/staff/<int:user_id>/", api.ProviderStaffMember.as_view(), name="provider-staff-member"),
]
