"""Routes of ledger imports and data audits, mounted inside the registry API (/api/v1/registry/)."""
from django.urls import path

from modules.registry import ledger_api as api

urlpatterns = [
    path("imports/", api.ImportJobList.as_view(), name="ledger-import-list"),
    path("imports/<int:pk>/", api.ImportJobDetail.as_view(), name="ledger-import-detail"),
    path("imports/<int:pk>/rows/", api.ImportJobRows.as_view(), name="ledger-import-rows"),
    path("imports/<int:pk>/confirm/", api.ImportJobConfirm.as_view(), name="ledger-import-confirm"),
    path("imports/<int:pk>/rejected.xlsx", api.ImportJobRejected.as_view(), name="ledger-import-rejected"),
    path("audit/run/", api.AuditRunStart.as_view(), name="audit-run"),
    path("audit/runs/", api.AuditRunList.as_view(), name="audit-runs"),
    path("audit/findings/", api.FindingList.as_view(), name="audit-findings"),
    path("audit/findings/<int:pk>/resolve/", api.FindingResolve.as_view(), name="audit-finding-resolve"),
]
