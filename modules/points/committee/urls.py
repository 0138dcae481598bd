"""Committee pages, mounted at /points/ (namespace ``points``): propose, the committee's queue, evidence."""
from django.urls import path, re_path

from modules.points.committee import views

urlpatterns = [
    path("staff/propose/", views.propose, name="propose"),
    path("staff/committee/", views.committee, name="committee"),
    re_path(r"^staff/evidence/(?P<kind>proposal|entry)/(?P<pk>[0-9]{1,18})/$", views.evidence, name="staff-evidence"),
]
