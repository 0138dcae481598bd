"""The ratings settings in force in the current district: the stored configuration over the defaults
(a district configured before a setting existed reads its default)."""
from __future__ import annotations

from kernel.selectors import module_config
from modules.ratings.spec import SPEC


def settings() -> dict:
    defaults = SPEC.default_config()
    stored = module_config("ratings") or {}
    out = {**defaults, **{k: v for k, v in stored.items() if k in defaults}}
    for group in ("integrity", "stars"):
        out[group] = {**defaults[group], **(stored.get(group) or {})}
    return out


def dimensions(subject_kind: str) -> list[dict]:
    """The district's dimensions for ``official`` or ``merchant`` subjects ([] for a handling unit)."""
    key = {"official": "official_dimensions", "merchant": "merchant_dimensions"}.get(subject_kind)
    return list(settings()[key]) if key else []
