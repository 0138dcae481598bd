"""Portal pages of the points module, mounted at /points/ (namespace ``points``), one set per
sub-package: the resident's points and the rulebook editor (``ledger``), propose and the committee
(``committee``), award batches (``batches``), tier benefits, the provider's scan and the honour list
(``benefits``). Staff pages live under /points/staff/."""
from django.urls import include, path

urlpatterns = [
    path("", include("modules.points.ledger.urls")),
    path("", include("modules.points.committee.urls")),
    path("", include("modules.points.batches.urls")),
    path("", include("modules.points.benefits.urls")),
]
