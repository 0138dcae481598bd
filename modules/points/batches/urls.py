"""Award batch pages, mounted at /points/ (namespace ``points``), under staff/batches/."""
from django.urls import path

from modules.points.batches import views

urlpatterns = [
    path("staff/batches/", views.batch_list, name="batches"),
    path("staff/batches/template.xlsx", views.batch_template, name="staff-batch-template"),
    path("staff/batches/<int:pk>/", views.batch_detail, name="staff-batch"),
    path("staff/batches/<int:pk>/progress.json", views.batch_progress, name="staff-batch-progress"),
    path("staff/batches/<int:pk>/report.csv", views.batch_report, name="staff-batch-report"),
]
