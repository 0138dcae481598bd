"""The address every printed code encodes: https://<district-domain>/c/<token>.

Mounted by the district URLconf (config/urls_tenant.py) with ``path("c/", include("modules.codes.scan_urls"))``;
no trailing slash, so a scan opens the page without a redirect."""
from django.urls import path

from modules.codes import views

urlpatterns = [path("<slug:token>", views.scan, name="code-scan")]

for _pattern in urlpatterns:  # gated like every route of the module (codes is always on)
    _pattern.callback.module_key = "codes"
