"""Appeals: a resident disputes one of their entries; the committee upholds it (the entry is
reversed at the quorum) or refuses it with a reason."""
from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kernel import audit, events
from kernel.errors import Conflict, NotAllowed
from modules.points.committee.models import Appeal, Vote
from modules.points.committee.services import _require_committee
from modules.points.ledger.models import Entry, SourceKind
from modules.points.ledger.services import _text, _user, config, resident_of, reverse_entry

# --- appeals ------------------------------------------------------------------------------------------

def appeal_refusal(*, reverses_id, reversed_: bool, posted_at, pending: bool, now=None, days: int | None = None
                   ) -> Conflict | None:
    """Why an entry cannot be appealed now, as the error ``file_appeal`` raises (None when it can). The
    resident's pages ask it too, so they offer "Appeal" exactly where the appeal would be taken."""
    days = int(config().get("appeal_days", 30)) if days is None else days
    if reverses_id:
        return Conflict(_("A correction cannot be appealed."), code="is_reversal")
    if reversed_:
        return Conflict(_("This entry has already been reversed."), code="already_reversed")
    if (now or timezone.now()) - posted_at > dt.timedelta(days=days):
        return Conflict(_("Appeals are possible for %(n)d days after an entry is posted.") % {"n": days},
                        code="appeal_too_late")
    if pending:
        return Conflict(_("This entry already has an appeal waiting for the committee."), code="appeal_open")
    return None


def file_appeal(*, actor, entry: Entry, reason: str, now=None) -> Appeal:
    """The resident disputes one of their entries."""
    reason = _text(reason, "reason", 2000, required=True, message=_("Say why you disagree."))
    user = _user(actor)
    resident = resident_of(user)
    if resident is None or resident.pk != entry.resident_id:
        raise NotAllowed(_("Only the resident the entry belongs to may appeal it."))
    with transaction.atomic():
        entry = Entry.objects.get(pk=entry.pk)
        refusal = appeal_refusal(
            reverses_id=entry.reverses_id, reversed_=Entry.objects.filter(reverses=entry).exists(),
            posted_at=entry.posted_at, now=now,
            pending=Appeal.objects.filter(entry=entry, status=Appeal.Status.PENDING).exists())
        if refusal is not None:
            raise refusal
        try:
            with transaction.atomic():
                appeal = Appeal.objects.create(entry=entry, resident_id=entry.resident_id, filed_by=user,
                                               reason=reason, quorum=int(config()["committee_quorum"]))
        except IntegrityError:
            raise Conflict(_("This entry already has an appeal waiting for the committee."), code="appeal_open")
        audit.record(actor=user, action="points.appeal.file", target=appeal, after={"entry": entry.pk})
    return appeal


def _lock_appeal(appeal: Appeal, user) -> Appeal:
    appeal = Appeal.objects.select_for_update(of=("self",)).select_related("entry", "resident").get(pk=appeal.pk)
    if appeal.status != Appeal.Status.PENDING:
        raise Conflict(_("This appeal has already been decided (%(status)s).") % {"status": appeal.status},
                       code="already_decided")
    _require_committee(user, resident=appeal.resident)
    entry = appeal.entry
    approved_it = entry.source_kind == SourceKind.PROPOSAL and Vote.objects.filter(
        proposal_id=entry.source_id, member=user, decision=Vote.Decision.APPROVE).exists()
    if user.pk in (entry.posted_by_id, entry.approved_by_id) or approved_it:
        raise NotAllowed(_("Members who posted or approved the entry do not decide its appeal."),
                         code="maker_checker")
    if Vote.objects.filter(appeal=appeal, member=user).exists():
        raise Conflict(_("You have already decided on this appeal."), code="already_voted")
    return appeal


def uphold_appeal(*, actor, appeal: Appeal, note: str = "") -> Appeal:
    """A member agrees with the resident. At the quorum the entry is reversed."""
    user = _user(actor)
    with transaction.atomic():
        appeal = _lock_appeal(appeal, user)
        Vote.objects.create(appeal=appeal, member=user, decision=Vote.Decision.APPROVE, reason=note[:2000])
        upheld = Vote.objects.filter(appeal=appeal, decision=Vote.Decision.APPROVE).count()
        audit.record(actor=user, action="points.appeal.uphold", target=appeal,
                     after={"votes": upheld, "quorum": appeal.quorum})
        if upheld >= appeal.quorum:
            reversal = reverse_entry(actor=user, entry=appeal.entry,
                                     reason=_("Appeal upheld: %(reason)s") % {"reason": appeal.reason[:200]},
                                     source_kind=SourceKind.APPEAL, source_id=appeal.pk, approved_by=user,
                                     _check_actor=False)
            appeal.status, appeal.decided_at, appeal.reversal = Appeal.Status.UPHELD, timezone.now(), reversal
            appeal.decision_reason = note.strip()
            appeal.save(update_fields=["status", "decided_at", "reversal", "decision_reason"])
            events.publish("points.appeal_decided", {"appeal_id": appeal.pk, "status": appeal.status})
    return appeal


def refuse_appeal(*, actor, appeal: Appeal, reason: str) -> Appeal:
    """A member refuses the appeal, saying why; the refusal is recorded and the entry stands."""
    user = _user(actor)
    reason = _text(reason, "reason", 2000, required=True, message=_("Say why the appeal is refused."))
    with transaction.atomic():
        appeal = _lock_appeal(appeal, user)
        Vote.objects.create(appeal=appeal, member=user, decision=Vote.Decision.REJECT, reason=reason)
        appeal.status, appeal.decided_at, appeal.decision_reason = Appeal.Status.REFUSED, timezone.now(), reason
        appeal.save(update_fields=["status", "decided_at", "decision_reason"])
        audit.record(actor=user, action="points.appeal.refuse", target=appeal, after={"reason": reason[:500]})
        events.publish("points.appeal_decided", {"appeal_id": appeal.pk, "status": appeal.status})
    return appeal
