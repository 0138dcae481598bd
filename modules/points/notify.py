"""SMS to residents about their points, through the pluggable sender (kernel.sms). Always after the
postings are committed, in Celery, in groups; a failing message is counted and logged (never with
the number in clear) and never undoes a posting."""
from __future__ import annotations

import logging

from django.db import connection
from django.db.models import F
from django.utils.translation import gettext as _

from kernel.events import kick
from kernel.locks import try_advisory_lock
from kernel.personal import decrypt
from kernel.sms import get_sender
from modules.points.models import Balance, BalanceKind, Batch, Entry, SourceKind

log = logging.getLogger(__name__)

SMS_CHUNK = 500


def queue_entry_sms(entry_ids: list[int]) -> None:
    """Off the request path (kernel.events.kick). Broker down: the postings stand; these messages are
    not sent."""
    kick("modules.points.tasks.send_entry_sms", args=(tuple(entry_ids),))


def queue_batch_sms(batch_id: int) -> None:
    kick("modules.points.tasks.send_batch_sms", args=(batch_id,))


def _brand() -> str:
    district = getattr(connection, "tenant", None)
    return (getattr(district, "title_zh", "") or getattr(district, "name_zh", "") or "").strip()


def award_text(*, points: int, kind: str, reason: str, balance: int | None = None, brand: str | None = None) -> str:
    words = {"brand": brand if brand is not None else _brand(), "points": abs(points),
             "kind": str(BalanceKind(kind).label), "reason": reason[:60]}
    if points > 0:
        text = _("[%(brand)s] You have been awarded %(points)d %(kind)s: %(reason)s.") % words
    else:
        text = _("[%(brand)s] %(points)d %(kind)s have been deducted: %(reason)s.") % words
    if balance is not None:
        text += _(" Your balance: %(balance)d.") % {"balance": balance}
    return text


def _phone(resident_token: str, user_token: str | None) -> str:
    token = resident_token or user_token or ""
    if not token:
        return ""
    try:
        return decrypt(token)
    except ValueError:
        return ""


def _send(phone: str, text: str) -> bool:
    try:
        get_sender().send(phone=phone, text=text)
        return True
    except Exception:  # a provider error must not stop the others; the number is never logged
        log.warning("points SMS failed")
        return False


def send_entry_sms(entry_ids: list[int]) -> tuple[int, int]:
    """One message per entry, with the balance after it. Returns (sent, failed)."""
    rows = list(Entry.objects.filter(pk__in=entry_ids).order_by("id").values_list(
        "resident_id", "kind", "points", "reason", "resident__phone_encrypted", "resident__user__phone_encrypted"))
    balances = {(r, k): p for r, k, p in Balance.objects.filter(
        resident_id__in={r[0] for r in rows}).values_list("resident_id", "kind", "points")}
    sent = failed = 0
    brand = _brand()
    for resident_id, kind, points, reason, token, user_token in rows:
        phone = _phone(token, user_token)
        if not phone:
            continue
        text = award_text(points=points, kind=kind, reason=reason, balance=balances.get((resident_id, kind)),
                          brand=brand)
        if _send(phone, text):
            sent += 1
        else:
            failed += 1
    return sent, failed


def send_batch_sms(batch_id: int) -> tuple[int, int]:
    """Message every resident a batch posted to, in groups of ``SMS_CHUNK``; the cursor is saved after
    each group, so a restart resends at most one group."""
    with try_advisory_lock("points-sms", batch_id) as got:
        if not got:
            return 0, 0
        batch = Batch.objects.filter(pk=batch_id).first()
        if batch is None or batch.sms_done:
            return 0, 0
        brand, cursor_id = _brand(), batch.sms_cursor
        total_sent = total_failed = 0
        while True:
            rows = list(Entry.objects.filter(source_kind=SourceKind.BATCH, source_id=batch.pk, id__gt=cursor_id)
                        .order_by("id").values_list("id", "points", "kind", "resident__phone_encrypted",
                                                    "resident__user__phone_encrypted")[:SMS_CHUNK])
            if not rows:
                Batch.objects.filter(pk=batch.pk).update(sms_done=True)
                return total_sent, total_failed
            sent = failed = 0
            for _id, points, kind, token, user_token in rows:
                phone = _phone(token, user_token)
                if not phone:
                    continue
                if _send(phone, award_text(points=points, kind=kind, reason=batch.reason, brand=brand)):
                    sent += 1
                else:
                    failed += 1
            cursor_id = rows[-1][0]
            Batch.objects.filter(pk=batch.pk).update(sms_cursor=cursor_id, sms_sent=F("sms_sent") + sent,
                                                     sms_failed=F("sms_failed") + failed)
            total_sent, total_failed = total_sent + sent, total_failed + failed
