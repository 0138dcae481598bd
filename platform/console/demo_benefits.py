"""Demo benefit providers and benefits (filled in by the benefits work)."""


def seed_benefits(admin, *, rng_seed: str) -> None:
    return None
