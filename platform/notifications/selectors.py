"""Reads of the inbox and preferences: a person only ever sees their own messages."""
from __future__ import annotations

from django.db.models import QuerySet

from notifications import kinds
from notifications.models import Channel, Message, Preference


def inbox_of(user, *, unread: bool | None = None) -> QuerySet:
    if not getattr(user, "is_authenticated", False):
        return Message.objects.none()
    qs = Message.objects.filter(recipient=user, channel=Channel.INBOX)
    if unread is True:
        qs = qs.filter(read_at__isnull=True)
    elif unread is False:
        qs = qs.filter(read_at__isnull=False)
    return qs.order_by("-created_at", "-id")


def unread_count(user) -> int:
    return inbox_of(user, unread=True).count()


def preferences_of(user) -> dict:
    """The person's channels per group (their choice, else the group's default), quiet hours and
    whether WeChat reaches them."""
    pref = Preference.objects.filter(user=user).first()
    chosen = pref.channels if pref else {}
    return {
        "groups": [{"key": g.key, "label": str(g.label), "default": list(g.default_channels),
                    "channels": list(chosen.get(g.key, g.default_channels))} for g in kinds.groups()],
        "quiet_start": pref.quiet_start if pref else None,
        "quiet_end": pref.quiet_end if pref else None,
        "wechat_bound": bool(pref and pref.wechat_openid_encrypted),
    }
