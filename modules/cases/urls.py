"""Portal pages of the cases module, mounted at /cases/."""
from django.urls import include, path, re_path

from modules.cases import case_views, pending, views

# A case is addressed by its reference number (KBS-20260930-0001) or its id; the pattern cannot
# match a page name, so the settings pages keep their own addresses.
CASE = r"(?P<key>[0-9]+|[A-Za-z0-9]+-[0-9]{8}-[0-9]+)"

urlpatterns = [
    path("report/", views.report, name="report"),
    path("report/kept/<slug:form_token>/<str:sha>/", pending.serve, name="kept-file"),
    path("suggest/", views.suggest, name="suggest"),
    path("mine/", case_views.mine, name="mine"),
    path("pool/", case_views.pool, name="pool"),
    path("code/<slug:token>/report/", views.code_report, name="code-report"),
    path("code/<slug:token>/praise/", views.code_praise, name="code-praise"),
    path("code/<slug:token>/contact/", views.code_contact, name="code-contact"),
    path("code/<slug:token>/request/", views.code_request, name="code-request"),
    path("", include("modules.cases.settings_urls")),  # settings and figures pages (settings_views)
    re_path(rf"^{CASE}/$", case_views.detail, name="detail"),
    re_path(rf"^{CASE}/files/(?P<attachment>[0-9]+)/$", case_views.attachment, name="file"),
]
