"""Staff pages of the points module, mounted at /points/staff/ (views in ``views_staff``)."""
from django.urls import path, re_path

from modules.points import views_staff as v

urlpatterns = [
    path("propose/", v.propose, name="propose"),
    path("committee/", v.committee, name="committee"),
    re_path(r"^evidence/(?P<kind>proposal|entry)/(?P<pk>[0-9]{1,18})/$", v.evidence, name="staff-evidence"),
    path("batches/", v.batch_list, name="batches"),
    path("batches/template.xlsx", v.batch_template, name="staff-batch-template"),
    path("batches/<int:pk>/", v.batch_detail, name="staff-batch"),
    path("batches/<int:pk>/progress.json", v.batch_progress, name="staff-batch-progress"),
    path("batches/<int:pk>/report.csv", v.batch_report, name="staff-batch-report"),
    path("rules/", v.rules, name="rules"),
    path("rules/new/", v.rule_new, name="staff-rule-new"),
    path("rules/template/", v.rule_template, name="staff-rule-template"),
    path("rules/<slug:code>/", v.rule_detail, name="staff-rule"),
]
