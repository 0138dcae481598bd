"""/console/lifecycle/ on the public host (tenants.lifecycle.views)."""
from django.urls import path

from tenants.lifecycle import views

app_name = "lifecycle"
urlpatterns = [
    path("", views.index, name="index"),
    path("exports/<int:pk>/restore/", views.restore, name="restore"),
    path("exports/<int:pk>/files/<str:kind>/", views.export_file, name="export-file"),
    path("<slug:slug>/", views.district, name="district"),
    path("<slug:slug>/archive/", views.archive, name="archive"),
    path("<slug:slug>/export/", views.export, name="export"),
    path("<slug:slug>/delete/", views.delete, name="delete"),
]
