"""Open311 GeoReport v2 at /open311/ (filled by modules.cases.open311)."""
urlpatterns: list = []
