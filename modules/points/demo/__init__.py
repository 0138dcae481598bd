"""The points module's demo data (``ModuleSpec.demo``): six months of ledger, committee work, batches
and appeals (``demo.ledger``), then tier-benefit providers, uses and honour-list opt-ins
(``demo.benefits``), all made through the real services."""
from __future__ import annotations

from django.db import OperationalError


def seed_demo(*, district, admin, rng_seed: str) -> None:
    """Seed the points demo of ``district`` (the console calls it inside the district's tenant context,
    after the modules this one depends on). Idempotent: a district already seeded gets nothing more."""
    from modules.points.demo.benefits import seed_benefits
    from modules.points.demo.ledger import seed_points
    from modules.points.ledger.rules import seed

    # Rules the template gained since the district was made (e.g. the reporter rules per case category)
    seed(template=district.slug, actor=admin)
    for attempt in range(3):
        try:
            seed_points(admin, rng_seed=rng_seed)
            break
        except OperationalError as exc:
            # The live worker may award points in this district meanwhile (the cases demo's verified
            # reports) and lock balances in another order; PostgreSQL ends one of the two. Ours rolled back
            # whole (one transaction), so it is planned and posted again; the worker's task retries itself.
            if "deadlock" not in str(exc) or attempt == 2:
                raise
    seed_benefits(admin, rng_seed=rng_seed)
