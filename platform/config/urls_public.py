"""URLs of the public platform host: the platform site, console, and the platform API."""
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config.common_urls import common, handler400, handler403, handler404, handler500  # noqa: F401

urlpatterns = [
    *common,
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(urlconf="config.urls_public"), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/v1/onboarding/", include("onboarding.api_urls")),
    path("api/v1/billing/", include("billing.api_urls")),
    path("api/v1/lifecycle/", include("tenants.lifecycle.api_urls")),
    path("api/v1/releases/", include("tenants.releases.api_urls")),
    path("api/v1/", include("console.api_urls")),
    path("billing/", include("billing.urls")),  # Stripe's webhook and the finance / vendor billing pages
    path("console/applications/", include("onboarding.urls")),
    path("console/lifecycle/", include("tenants.lifecycle.urls")),
    path("console/releases/", include("tenants.releases.urls")),
    path("", include("console.urls")),
]
