"""The points module's demo data (``ModuleSpec.demo``): six months of ledger, committee work, batches
and appeals (``demo.ledger``), then tier-benefit providers, uses and honour-list opt-ins
(``demo.benefits``), all made through the real services."""
from __future__ import annotations


def seed_demo(*, district, admin, rng_seed: str) -> None:
    """Seed the points demo of ``district`` (the console calls it inside the district's tenant context,
    after the modules this one depends on). Idempotent: a district already seeded gets nothing more."""
    from modules.points.demo.benefits import seed_benefits
    from modules.points.demo.ledger import seed_points
    from modules.points.ledger.rules import seed

    # Rules the template gained since the district was made (e.g. the reporter rules per case category)
    seed(template=district.slug, actor=admin)
    seed_points(admin, rng_seed=rng_seed)
    seed_benefits(admin, rng_seed=rng_seed)
