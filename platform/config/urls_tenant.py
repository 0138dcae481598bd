"""URLs of every district host. Module routes are mounted from the module registry."""
from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config.common_urls import common, handler400, handler403, handler404, handler500  # noqa: F401
from modules.urls import api_patterns, portal_patterns, root_patterns

urlpatterns = [
    *common,
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(urlconf="config.urls_tenant"), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/v1/me/messages/", include("notifications.api_urls")),
    path("api/v1/", include("portal.api_urls")),
    *api_patterns(),
    *root_patterns(),
    path("c/", include("modules.codes.scan_urls")),  # what a printed QR code opens: /c/<token>
    path("messages/", include("notifications.urls")),
    path("", include("accounts.urls")),  # /invite/<token>/: the one-time link that sets a password
    path("manage/billing/", include("billing.district_urls")),  # the district's plan and invoices (admins)
    path("", include("portal.urls")),
    *portal_patterns(),
]
if settings.SERVE_MEDIA:
    from portal.views import media

    urlpatterns.append(path("media/<path:path>", media, name="media"))
