"""Portal pages of the ratings module, mounted at /ratings/ (namespace ``ratings``), one set per
sub-package: rating from a scan and my ratings (``ledger``), held ratings under review (``integrity``),
callbacks, appeals and replies (``followup``), scores, rankings, star merchants (``reports``). Staff
pages live under /ratings/staff/."""
from django.urls import include, path

urlpatterns = [
    path("", include("modules.ratings.ledger.urls")),
    path("", include("modules.ratings.integrity.urls")),
    path("", include("modules.ratings.followup.urls")),
    path("", include("modules.ratings.reports.urls")),
]
