"""What residents read for a notice category."""
from django.utils.translation import pgettext_lazy

from kernel.selectors import module_config

# Names of the categories every district starts with (the configuration's default); a district's own
# categories are named in the configuration's ``category_labels``.
CATEGORY_LABELS = {
    "policy": pgettext_lazy("notice category", "policy"),
    "news": pgettext_lazy("notice category", "news"),
    "event": pgettext_lazy("notice category", "event"),
}


def category_label(key: str) -> str:
    """The district's own name for a category, the built-in one, else the key."""
    own = module_config("notices").get("category_labels") or {}
    return own.get(key) or str(CATEGORY_LABELS.get(key, key))
