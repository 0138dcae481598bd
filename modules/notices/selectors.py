from django.utils import timezone

from modules.notices.models import Notice


def published():
    return Notice.objects.filter(published_at__lte=timezone.now())


def published_count() -> int:
    return published().count()
