"""Hotline / mailbox intake and integration management under /api/v1/cases/ (modules.cases.intake.integration_api)."""
from django.urls import path

from modules.cases.intake import integration_api as api

urlpatterns = [
    path("intake/", api.Intake.as_view(), name="intake"),
    path("intake/<path:external_id>/", api.IntakeStatus.as_view(), name="intake-status"),
    path("integrations/", api.IntegrationList.as_view(), name="integrations"),
    path("integrations/<int:pk>/", api.IntegrationDetail.as_view(), name="integration"),
    path("integrations/<int:pk>/rotate-key/", api.RotateKey.as_view(), name="integration-rotate-key"),
    path("integrations/<int:pk>/webhook-secret/", api.WebhookSecret.as_view(), name="integration-webhook-secret"),
    path("integrations/<int:pk>/deliveries/", api.Deliveries.as_view(), name="integration-deliveries"),
]
