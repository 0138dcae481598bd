"""Open311 GeoReport v2 at /open311/ on every district host (views in modules.cases.open311).

The format is the extension (.json / .xml), as the spec has it. Anything else under /open311/
answers an Open311 error (404), not the site's page: the catch-all below, and ``handler404`` for a 404
raised anywhere under /open311/ (the module is off, no such request), which the host's 404 handler
calls through the spec's ``root_urls`` (``modules.urls.root_handler404``)."""
from django.urls import path, re_path

from modules.cases import open311

FMT = r"\.(?P<fmt>json|xml)$"
ID = r"(?P<{}>[\w.~-]+?)"


def handler404(request, exception=None):
    return open311.error_page(request, 404)


urlpatterns = [
    re_path(r"^discovery" + FMT, open311.discovery, name="discovery"),
    re_path(r"^v2/discovery" + FMT, open311.discovery, name="v2-discovery"),
    path("v2/", open311.v2_root, name="v2-root"),
    re_path(r"^v2/services" + FMT, open311.service_list, name="services"),
    re_path(r"^v2/services/" + ID.format("service_code") + FMT, open311.service_definition, name="service"),
    re_path(r"^v2/requests" + FMT, open311.requests_view, name="requests"),
    re_path(r"^v2/requests/" + ID.format("service_request_id") + FMT, open311.request_detail, name="request"),
    re_path(r"^v2/tokens/" + ID.format("token") + FMT, open311.token_detail, name="token"),
    re_path(r"^(?P<rest>.*)$", open311.not_found, name="not-found"),
]
