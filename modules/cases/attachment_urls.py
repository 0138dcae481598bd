"""Case photos and videos under /api/v1/cases/<pk>/attachments/ (modules.cases.attachments_api)."""
urlpatterns: list = []
