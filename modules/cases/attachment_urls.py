"""Case photos and videos under /api/v1/cases/<pk>/attachments/ (modules.cases.attachments_api).
Names: ``api-cases:attachments`` (list / upload) and ``api-cases:attachment`` (the file)."""
from django.urls import path

from modules.cases import attachments_api

urlpatterns = [
    path("<int:pk>/attachments/", attachments_api.AttachmentList.as_view(), name="attachments"),
    path("<int:pk>/attachments/<int:attachment_id>/", attachments_api.AttachmentFile.as_view(), name="attachment"),
]
