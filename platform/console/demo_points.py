"""Demo points data (filled in by the points pages work)."""


def seed_points(admin, *, rng_seed: str) -> None:
    return None
