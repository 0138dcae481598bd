"""The codes module's demo (``SPEC.demo``): every household, shop, stall and official of the demo
registry gets its codes, as the module's own seed gives them. Idempotent."""
from __future__ import annotations


def seed_demo(*, district, admin, rng_seed: str) -> None:
    from modules.codes.services import seed

    seed(actor=admin)
