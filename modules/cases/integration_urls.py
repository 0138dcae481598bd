"""Hotline / mailbox intake and integration management under /api/v1/cases/ (modules.cases.integration_api)."""
urlpatterns: list = []
