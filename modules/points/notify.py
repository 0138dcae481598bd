"""What the points module tells residents, through the one notification service: points awarded or
deducted (one entry, or every entry of a finished batch) with the reason and the balance, and an
appeal decided. A resident without an account hears by SMS at their registered phone. The
module's ``sms_on_award`` setting turns text messages about points off (the inbox stays)."""
from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from kernel.events import handles
from modules.points.ledger.services import config
from modules.points.models import Appeal, Balance, BalanceKind, Batch, Entry, SourceKind
from notifications.kinds import Group, Kind, register_group, register_kind
from notifications.models import Channel
from notifications.services import Note, Recipient, link, notify, to_user

CHUNK = 1000

register_group(Group("points", _("My points"), default_channels=("sms",), order=20))
_FIELDS = (("number1", "points"), ("thing2", "reason"), ("number3", "balance"))
register_kind(Kind("points.awarded", "points", _("You have been awarded %(points)s %(kind)s"),
                   _("Reason: %(reason)s. Your balance: %(balance)s."), wechat=_FIELDS))
register_kind(Kind("points.deducted", "points", _("%(points)s %(kind)s have been deducted"),
                   _("Reason: %(reason)s. Your balance: %(balance)s."), wechat=_FIELDS))
_APPEAL = (("thing1", "title"), ("thing2", "reason"))
register_kind(Kind("points.appeal_upheld", "points", _("Your appeal was upheld"),
                   _("The entry \u201c%(entry_reason)s\u201d (%(points)s) was reversed. %(note)s"), wechat=_APPEAL))
register_kind(Kind("points.appeal_refused", "points", _("Your appeal was refused"),
                   _("The entry \u201c%(entry_reason)s\u201d (%(points)s) stands. The committee's reason: %(reason)s"),
                   wechat=_APPEAL))


def _allowed() -> set[str] | None:
    return None if config().get("sms_on_award") else {Channel.WECHAT}


def _notes(entries) -> list[tuple[str, Note]]:
    """(kind, note) per entry: the resident (their account, else their registered phone), the points,
    the reason and the balance of that kind now."""
    rows = list(entries.values_list("resident_id", "kind", "points", "reason", "resident__phone_encrypted",
                                    "resident__user_id", "resident__user__preferred_language",
                                    "resident__user__phone_encrypted", "resident__user__is_active"))
    balances = {(r, k): p for r, k, p in Balance.objects.filter(
        resident_id__in={r[0] for r in rows}).values_list("resident_id", "kind", "points")}
    address, found = link("points:home"), []
    for resident_id, kind, points, reason, phone, user_id, language, user_phone, active in rows:
        if user_id and active:
            who = Recipient(key=f"u{user_id}", user_id=user_id, language=language or "",
                            phone_encrypted=phone or user_phone or "")
        elif phone:
            who = Recipient(key=f"r{resident_id}", phone_encrypted=phone)
        else:
            continue
        words = {"points": abs(points), "kind": BalanceKind(kind).label, "reason": reason.rstrip("。.！! "),
                 "balance": balances.get((resident_id, kind), 0)}
        found.append(("points.awarded" if points > 0 else "points.deducted", Note(who, words, address)))
    return found


def _send(event, notes: list[tuple[str, Note]]) -> None:
    allow = _allowed()
    for kind in ("points.awarded", "points.deducted"):
        chosen = [note for k, note in notes if k == kind]
        if chosen:
            notify(event=event, kind=kind, notes=chosen, allow=allow)


@handles("points.entry_posted", module="points", name="points.notify_entry")
def on_entry_posted(payload, event):
    _send(event, _notes(Entry.objects.filter(pk=payload["entry_id"])))


@handles("points.batch_done", module="points", name="points.notify_batch")
def on_batch_done(payload, event):
    """Every resident the batch posted to, in chunks of entries (a batch may reach a whole district)."""
    batch = Batch.objects.filter(pk=payload["batch_id"]).first()
    if batch is None:
        return
    entries = Entry.objects.filter(source_kind=SourceKind.BATCH, source_id=batch.pk).order_by("id")
    last = 0
    while True:
        ids = list(entries.filter(id__gt=last).values_list("id", flat=True)[:CHUNK])
        if not ids:
            return
        _send(event, _notes(Entry.objects.filter(pk__in=ids).order_by("id")))
        last = ids[-1]


@handles("points.appeal_decided", module="points", name="points.notify_appeal")
def on_appeal_decided(payload, event):
    appeal = Appeal.objects.select_related("entry", "filed_by").filter(pk=payload["appeal_id"]).first()
    if appeal is None or appeal.status == Appeal.Status.PENDING or not appeal.filed_by.is_active:
        return
    upheld = appeal.status == Appeal.Status.UPHELD
    words = {"entry_reason": appeal.entry.reason, "points": f"{appeal.entry.points:+d}",
             "reason": appeal.decision_reason, "note": appeal.decision_reason}
    notify(event=event, kind="points.appeal_upheld" if upheld else "points.appeal_refused",
           notes=[Note(to_user(appeal.filed_by), words, link("points:appeals"))])
