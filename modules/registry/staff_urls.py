"""Staff pages of the registry (namespace ``registry``): ledger import and data audit."""
from django.urls import path

from modules.registry import staff_views as views

urlpatterns = [
    path("ledger/", views.ledger_upload, name="ledger"),
    path("ledger/<int:pk>/", views.ledger_job, name="ledger-job"),
    path("ledger/<int:pk>/rejected.xlsx", views.ledger_rejected, name="ledger-rejected"),
    path("audit/", views.audit_page, name="audit"),
    path("audit/run/", views.audit_run, name="audit-run"),
    path("audit/findings/<int:pk>/resolve/", views.finding_resolve, name="finding-resolve"),
]
