from django.utils import timezone

from kernel.selectors import module_config
from modules.notices.models import CATEGORY_LABELS, Notice


def published():
    return Notice.objects.filter(published_at__lte=timezone.now())


def published_count() -> int:
    return published().count()


def category_label(key: str) -> str:
    """What residents read for a category: the district's own name for it, the built-in one, else the key."""
    own = module_config("notices").get("category_labels") or {}
    return own.get(key) or str(CATEGORY_LABELS.get(key, key))
