"""Every message goes through here: ``notify`` makes the messages of one event (in the outbox
handler's transaction), ``deliver_due`` sends the SMS and WeChat ones (in Celery), and the person
reads, marks and sets preferences.

Exactly one message per event, person and channel: a doubled relay or a handler run twice inserts
nothing (the unique constraint, ``ignore_conflicts``). The inbox is immediate; SMS and WeChat wait
for the end of the person's quiet hours and are retried with back-off when the provider fails."""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from kernel import audit
from kernel.errors import DomainError
from kernel.events import kick
from kernel.personal import encrypt
from notifications import kinds
from notifications.channels import sender
from notifications.models import Channel, Message, Preference

log = logging.getLogger("mashang.notifications")

MAX_ATTEMPTS = 6
BACKOFF_SECONDS = (60, 300, 900, 3600, 3600 * 4)
DELIVER_TASK = "notifications.tasks.deliver"


@dataclass(frozen=True)
class Recipient:
    """A person to tell: a user (inbox, and their phone / WeChat), or a person the ledger knows
    without an account (``key`` "r<resident id>", SMS to their registered phone only)."""

    key: str
    user_id: int | None = None
    language: str = ""
    phone_encrypted: str = ""


def link(url_name: str, **kwargs) -> str:
    """The address of a page for a message, or "" where it is not there (a module off)."""
    try:
        return reverse(url_name, kwargs=kwargs or None)
    except NoReverseMatch:
        return ""


def to_user(user) -> Recipient:
    return Recipient(key=f"u{user.pk}", user_id=user.pk, language=getattr(user, "preferred_language", ""),
                     phone_encrypted=getattr(user, "phone_encrypted", ""))


@dataclass
class Note:
    """One person's message of an event: who, the template's words, where it leads."""

    recipient: Recipient
    context: dict = field(default_factory=dict)
    link: str = ""


# --- quiet hours ------------------------------------------------------------------------------------

def _tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def quiet_until(start: dt.time | None, end: dt.time | None, now: dt.datetime) -> dt.datetime | None:
    """When quiet hours ``start``–``end`` (local time, may run over midnight) are on at ``now``: their
    end; else None."""
    if start is None or end is None or start == end:
        return None
    local = now.astimezone(_tz())
    t = local.time()
    inside = start <= t < end if start < end else (t >= start or t < end)
    if not inside:
        return None
    until = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if until <= local:
        until += dt.timedelta(days=1)
    return until


# --- making messages --------------------------------------------------------------------------------

def _brand() -> str:
    district = getattr(connection, "tenant", None)
    return (getattr(district, "title_zh", "") or getattr(district, "name_zh", "") or "").strip()


def _channels(recipient: Recipient, group: kinds.Group, pref: Preference | None, allow) -> list[str]:
    wanted = pref.channels.get(group.key, group.default_channels) if pref is not None else group.default_channels
    extra = [c for c in kinds.EXTRA_CHANNELS if c in wanted and (allow is None or c in allow)]
    found = [Channel.INBOX] if recipient.user_id else []
    for channel in extra:
        if channel == Channel.SMS and recipient.phone_encrypted:
            found.append(channel)
        elif channel == Channel.WECHAT and pref is not None and pref.wechat_openid_encrypted:
            found.append(channel)
    return found


def notify(*, event, kind: str, notes: Iterable[Note], allow: Iterable[str] | None = None, now=None) -> int:
    """Make the messages of ``event`` (an OutboxEvent or its id) for ``notes``, rendered in each
    person's language. ``allow``: the extra channels the caller permits (e.g. a module's "SMS on"
    setting); None: all. Runs in the caller's transaction. Returns the number of new messages."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("notify() runs inside the outbox handler's transaction")
    event_id = getattr(event, "pk", event)
    k = kinds.kind(kind)
    group = kinds.group(k.group)
    now = now or timezone.now()
    allow = set(allow) if allow is not None else None
    notes = list(notes)
    user_ids = [n.recipient.user_id for n in notes if n.recipient.user_id]
    prefs = {p.user_id: p for p in Preference.objects.filter(user_id__in=user_ids)}
    brand = _brand()
    rows = []
    for note in notes:
        r = note.recipient
        pref = prefs.get(r.user_id)
        channels = _channels(r, group, pref, allow)
        if not channels:
            continue
        language = kinds.language_of(r.language)
        text = kinds.render(kind, note.context, language)
        held = quiet_until(pref.quiet_start, pref.quiet_end, now) if pref is not None else None
        for channel in channels:
            row = Message(event_id=event_id, kind=kind, channel=channel, recipient_id=r.user_id, recipient_key=r.key,
                          language=language, title=text.title, body=text.body, link=note.link[:300])
            if channel == Channel.INBOX:
                row.status, row.sent_at = Message.Status.SENT, now
            elif channel == Channel.SMS:
                row.address_encrypted, row.send_after = r.phone_encrypted, held or now
                with override(language):
                    row.data = {"text": _("[%(brand)s] %(title)s: %(body)s")
                                % {"brand": brand, "title": text.title, "body": text.body}}
            else:
                row.address_encrypted, row.send_after = pref.wechat_openid_encrypted, held or now
                row.data = {"fields": text.wechat, "page": k.page}
            rows.append(row)
    if not rows:
        return 0
    before = Message.objects.filter(event_id=event_id).count()
    Message.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)  # the ones made before stay
    if any(r.channel != Channel.INBOX for r in rows):
        transaction.on_commit(lambda: kick(DELIVER_TASK))
    return Message.objects.filter(event_id=event_id).count() - before


# --- delivery (Celery) ------------------------------------------------------------------------------

def deliver_due(*, limit: int = 200, now=None) -> int:
    """Send the SMS and WeChat messages that are due, each under its row lock (a second worker skips
    it), marking it sent in the same transaction. A provider error counts an attempt and waits
    (back-off); after MAX_ATTEMPTS the message is failed. Returns the number sent."""
    now = now or timezone.now()
    ids = list(Message.objects.filter(status=Message.Status.PENDING, send_after__lte=now)
               .order_by("send_after", "id").values_list("pk", flat=True)[:limit])
    sent = 0
    for pk in ids:
        with transaction.atomic():
            message = (Message.objects.select_for_update(skip_locked=True)
                       .filter(pk=pk, status=Message.Status.PENDING, send_after__lte=now).first())
            if message is None:
                continue
            try:
                sender(message.channel).send(message)
            except Exception as exc:  # the provider failed: try again later, never with the number logged
                message.attempts += 1
                message.last_error = f"{type(exc).__name__}: {exc}"[:500]
                if message.attempts >= MAX_ATTEMPTS:
                    message.status = Message.Status.FAILED
                else:
                    wait = BACKOFF_SECONDS[min(message.attempts, len(BACKOFF_SECONDS)) - 1]
                    message.send_after = now + dt.timedelta(seconds=wait)
                log.warning("message not sent", extra={"message_id": message.pk, "channel": message.channel})
            else:
                message.status, message.sent_at = Message.Status.SENT, timezone.now()
                sent += 1
            message.save(update_fields=["status", "sent_at", "attempts", "last_error", "send_after"])
    return sent


# --- the person: read, preferences ------------------------------------------------------------------

def mark_read(*, actor, message: Message, now=None) -> Message:
    """Mark one of ``actor``'s inbox messages read (the selectors only hand out their own)."""
    if message.recipient_id != getattr(actor, "pk", None) or message.channel != Channel.INBOX:
        raise DomainError(_("Not found."), code="not_found", status=404)
    with transaction.atomic():
        changed = Message.objects.filter(pk=message.pk, read_at__isnull=True).update(read_at=now or timezone.now())
        if changed:
            audit.record(actor=actor, action="notifications.read", target=message)
        message.refresh_from_db(fields=["read_at"])
    return message


def mark_all_read(*, actor, now=None) -> int:
    with transaction.atomic():
        count = Message.objects.filter(recipient=actor, channel=Channel.INBOX, read_at__isnull=True).update(
            read_at=now or timezone.now())
        if count:
            audit.record(actor=actor, action="notifications.read_all", target=actor, after={"count": count})
    return count


def save_preferences(*, actor, channels: dict | None = None, quiet_start: dt.time | None = None,
                     quiet_end: dt.time | None = None) -> Preference:
    """``channels``: group -> the extra channels (sms, wechat) wanted; groups left out keep theirs.
    Quiet hours: both times or neither."""
    known = {g.key for g in kinds.groups()}
    channels = channels or {}
    wrong = [key for key in channels if key not in known]
    if wrong:
        raise DomainError(_("Unknown kind of message: %(keys)s.") % {"keys": ", ".join(wrong)},
                          fields={"channels": [_("Unknown kind of message.")]})
    for chosen in channels.values():
        if not isinstance(chosen, list | tuple) or any(c not in kinds.EXTRA_CHANNELS for c in chosen):
            raise DomainError(_("Channels are sms and wechat (the inbox is always on)."),
                              fields={"channels": [_("Unknown channel.")]})
    if (quiet_start is None) != (quiet_end is None):
        raise DomainError(_("Give both the start and the end of quiet hours, or neither."),
                          fields={"quiet_end" if quiet_end is None else "quiet_start": [_("Required.")]})
    with transaction.atomic():
        pref, _created = Preference.objects.select_for_update().get_or_create(user=actor)
        before = {"channels": pref.channels, "quiet": [str(pref.quiet_start), str(pref.quiet_end)]}
        pref.channels = {**pref.channels, **{k: sorted(set(v)) for k, v in channels.items()}}
        pref.quiet_start, pref.quiet_end = quiet_start, quiet_end
        pref.save()
        audit.record(actor=actor, action="notifications.preferences", target=pref, before=before,
                     after={"channels": pref.channels, "quiet": [str(quiet_start), str(quiet_end)]})
    return pref


def bind_wechat(*, actor, openid: str) -> Preference:
    """Record the person's WeChat openid (from the mini-program's sign-in), so WeChat messages reach them."""
    openid = (openid or "").strip()
    if not openid or len(openid) > 64:
        raise DomainError(_("Not a WeChat openid."), fields={"openid": [_("Not a WeChat openid.")]})
    with transaction.atomic():
        pref, _created = Preference.objects.select_for_update().get_or_create(user=actor)
        pref.wechat_openid_encrypted = encrypt(openid)
        pref.save(update_fields=["wechat_openid_encrypted", "updated_at"])
        audit.record(actor=actor, action="notifications.wechat_bound", target=pref)
    return pref
