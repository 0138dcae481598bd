"""Template context on every district page: ``unread_count`` (counted only when a page shows it)
and ``inbox_url``."""
from __future__ import annotations

from django.db import connection
from django.urls import reverse
from django.utils.functional import SimpleLazyObject


def inbox(request):
    tenant = getattr(request, "tenant", None) or getattr(connection, "tenant", None)
    user = getattr(request, "user", None)
    if tenant is None or getattr(tenant, "is_public", True) or not getattr(user, "is_authenticated", False):
        return {}
    from notifications.selectors import unread_count

    return {"unread_count": SimpleLazyObject(lambda: unread_count(user)), "inbox_url": reverse("notifications:inbox")}
