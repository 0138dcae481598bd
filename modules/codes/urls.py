"""Portal pages of the codes module, mounted at /codes/ (the scan landing page is /c/<token>)."""
from django.urls import path

from modules.codes import views

urlpatterns = [
    path("", views.index, name="index"),
    path("bind/<slug:token>/", views.bind, name="bind"),
    path("household/<slug:token>/invite/", views.invite, name="invite"),
    path("household/<slug:token>/members/<int:membership>/remove/", views.remove_member, name="remove-member"),
    path("join/<slug:invite>/", views.join, name="join"),
    path("bindings/", views.bindings, name="bindings"),
    path("bindings/<int:pk>/decide/", views.decide, name="decide"),
    path("code/<slug:token>/", views.code_detail, name="code"),
    path("print-runs/", views.print_runs, name="print-runs"),
    path("print-runs/<int:pk>/", views.print_run, name="print-run"),
    path("print-runs/<int:pk>/<str:part>/", views.print_run_file, name="print-run-file"),
]
