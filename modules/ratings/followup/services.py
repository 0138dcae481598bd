"""Writes of follow-ups: open one for a bad rating, record the callback (回访), appeals, 追评, replies.

One function per use case, keyword arguments, one transaction, an audit entry in it, domain events
through the outbox (docs/ratings.md). Every write checks its actor here."""
from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kernel import audit, events
from kernel.errors import Conflict, DomainError, NotAllowed
from kernel.permissions import acting_user, has_role, has_role_for
from kernel.roles import GRID_WORKERS, Role, ScopeKind
from modules.ratings import config
from modules.ratings.followup.models import NOTE_MAX, Appeal, FollowUp, Reply
from modules.ratings.ledger import state as states
from modules.ratings.ledger.models import BAD_MAX, COMMENT_MAX, Channel, Rating, State, SubjectKind
from modules.ratings.ledger.periods import local_date, period_key

DEPARTMENT_STAFF = (Role.OFFICIAL, Role.GRID_WORKER_SECTOR, Role.COMMUNITY_STAFF)
GRID_STAFF = (*GRID_WORKERS, Role.COMMUNITY_STAFF)
# unit kinds of a follow-up (the cases module's names, "grid_workers" kept as "grid")
UNIT_SCOPES = {"department": (ScopeKind.DEPARTMENT, DEPARTMENT_STAFF), "grid": (ScopeKind.GRID, GRID_STAFF),
               "community": (ScopeKind.COMMUNITY, (Role.COMMUNITY_STAFF,)),
               "street": (ScopeKind.STREET, (Role.COMMUNITY_STAFF,))}


def _now(now) -> dt.datetime:
    return now or timezone.now()


def _text(value, *, field: str, limit: int, required: bool = True) -> str:
    text = (value or "").strip()
    if required and not text:
        raise DomainError(_("This field is required."), fields={field: [_("Required.")]})
    if len(text) > limit:
        raise DomainError(_("At most %(n)d characters.") % {"n": limit},
                          fields={field: [_("At most %(n)d characters.") % {"n": limit}]})
    return text


def unit_of(rating: Rating) -> tuple[str, str]:
    """The unit that follows up a rating from a code: an official's department, a merchant's grid.
    A case rating's unit comes with the cases module's follow-up case (empty until it links)."""
    if rating.channel == Channel.CASE:
        return "", ""
    if rating.subject_kind == SubjectKind.OFFICIAL and rating.department_id:
        return "department", rating.department.code
    if rating.subject_kind == SubjectKind.MERCHANT and rating.grid_id:
        return "grid", rating.grid.code
    return "", ""


def subject_user_id(rating: Rating) -> int | None:
    """The account of the rated person: the official's user, the merchant's owner."""
    if rating.subject_kind == SubjectKind.OFFICIAL and rating.official_id:
        return rating.official.user_id
    if rating.subject_kind == SubjectKind.MERCHANT and rating.merchant_id:
        return rating.merchant.owner_id
    return None


def subject_name(rating: Rating) -> str:
    subject = rating.subject
    if subject is not None:
        return subject.name
    return rating.grid.name if rating.grid_id else ""


def bad_rating_payload(rating: Rating) -> dict:
    """The ``ratings.bad_rating`` event of a bad rating from a code or on site (docs/ratings.md)."""
    return {
        "rating_id": rating.pk, "subject_kind": rating.subject_kind, "subject_name": subject_name(rating),
        "official_id": rating.official_id, "merchant_id": rating.merchant_id,
        "department_code": rating.department.code if rating.department_id else "",
        "grid_id": rating.grid_id, "level": rating.level, "comment": rating.comment, "rater_id": rating.rater_id,
        "due_working_days": config.settings()["follow_up_working_days"],
    }


# --- open ---------------------------------------------------------------------------------------------

def open_follow_up(*, rating, now=None):
    """Open the follow-up (回访) of a bad, real-name ``rating`` in the caller's transaction (the rating is
    saved). Idempotent: returns the rating's follow-up if it has one. The ledger calls this for every bad
    rating it saves, whatever the channel."""
    if rating.level > BAD_MAX:
        return None
    existing = FollowUp.objects.filter(rating=rating).first()
    if existing is not None:
        return existing
    unit_kind, unit_code = unit_of(rating)
    try:
        with transaction.atomic():
            return FollowUp.objects.create(rating=rating, unit_kind=unit_kind, unit_code=unit_code,
                                           opened_at=_now(now))
    except IntegrityError:  # opened meanwhile by a parallel call: that one is the follow-up
        return FollowUp.objects.get(rating=rating)


def link_case(*, follow_up: FollowUp, case_id: int, case_ref: str, due_at=None, unit_kind: str = "",
              unit_code: str = "") -> FollowUp:
    """The cases module opened the follow-up case (``cases.follow_up_opened``): remember it (once)."""
    with transaction.atomic():
        follow_up = FollowUp.objects.select_for_update().get(pk=follow_up.pk)
        if follow_up.case_id is not None:
            return follow_up
        follow_up.case_id, follow_up.case_ref = case_id, (case_ref or "")[:32]
        follow_up.due_at = due_at or follow_up.due_at
        if unit_kind:
            follow_up.unit_kind = "grid" if unit_kind == "grid_workers" else unit_kind[:16]
            follow_up.unit_code = (unit_code or "")[:40]
        follow_up.save(update_fields=["case_id", "case_ref", "due_at", "unit_kind", "unit_code"])
    return follow_up


# --- the callback (回访) -------------------------------------------------------------------------------

def may_follow_up(user, follow_up: FollowUp) -> bool:
    """District admins anywhere; the unit's staff (a department's officials and staff, a grid's workers
    and its community's staff, …). Never the rated person themselves."""
    user = acting_user(user)
    if user is None:
        return False
    if has_role(user, Role.DISTRICT_ADMIN):
        return True
    if subject_user_id(follow_up.rating) == user.pk:
        return False
    scope = UNIT_SCOPES.get(follow_up.unit_kind)
    return bool(scope and follow_up.unit_code and has_role_for(user, scope[1], scope[0], follow_up.unit_code))


def record_callback(*, actor, follow_up: FollowUp, outcome: str, note: str, reached: bool, fix_by=None,
                    now=None) -> FollowUp:
    """The unit called the rater back: fixed at once, to be fixed by ``fix_by`` (a date, not in the
    past), or explained. Once per follow-up. Publishes ``ratings.callback_recorded`` (the cases module
    resolves the follow-up case; the rater hears the outcome)."""
    user = acting_user(actor)
    now = _now(now)
    if not may_follow_up(user, follow_up):
        raise NotAllowed(_("Only the staff of the unit that follows up this rating may record its callback."))
    if outcome not in FollowUp.Outcome.values:
        raise DomainError(_("Choose an outcome."), fields={"outcome": [_("Choose one of the outcomes.")]})
    if not isinstance(reached, bool):
        raise DomainError(_("Say whether the rater was reached."), fields={"reached": [_("Required.")]})
    note = _text(note, field="note", limit=NOTE_MAX)
    if outcome == FollowUp.Outcome.FIXED_BY_DEADLINE:
        if fix_by is None:
            raise DomainError(_("Give the date it will be fixed by."), fields={"fix_by": [_("Required.")]})
        if isinstance(fix_by, dt.datetime) or not isinstance(fix_by, dt.date):
            raise DomainError(_("Give a date."), fields={"fix_by": [_("Not a date.")]})
        if fix_by < local_date(now):
            raise DomainError(_("The date it will be fixed by cannot be in the past."),
                              fields={"fix_by": [_("In the past.")]})
    else:
        fix_by = None
    with transaction.atomic():
        follow_up = FollowUp.objects.select_for_update().select_related("rating").get(pk=follow_up.pk)
        if follow_up.status != FollowUp.Status.OPEN:
            raise Conflict(_("The callback of this rating is already recorded."), code="already_called_back")
        follow_up.status, follow_up.outcome, follow_up.fix_by = FollowUp.Status.DONE, outcome, fix_by
        follow_up.reached, follow_up.note, follow_up.called_at, follow_up.called_by = reached, note, now, user
        follow_up.save(update_fields=["status", "outcome", "fix_by", "reached", "note", "called_at", "called_by"])
        audit.record(actor=user, action="ratings.follow_up.callback", target=follow_up,
                     after={"rating": follow_up.rating_id, "outcome": outcome, "reached": reached,
                            "fix_by": fix_by.isoformat() if fix_by else None})
        events.publish("ratings.callback_recorded", {
            "rating_id": follow_up.rating_id, "follow_up_id": follow_up.pk, "case_id": follow_up.case_id,
            "outcome": outcome, "note": note, "reached": reached,
            "fix_by": fix_by.isoformat() if fix_by else None, "called_by_id": user.pk})
    return follow_up


# --- appeals ----------------------------------------------------------------------------------------

def file_appeal(*, actor, rating: Rating, reason: str, now=None) -> Appeal:
    """The rated person (the official's account, the merchant's owner) thinks ``rating`` malicious.
    One pending appeal per rating; only a counted rating (a held one waits for its reviewer anyway)."""
    user = acting_user(actor)
    now = _now(now)
    if user is None or subject_user_id(rating) != user.pk:
        raise NotAllowed(_("Only the rated person may appeal a rating."))
    reason = _text(reason, field="reason", limit=NOTE_MAX)
    with transaction.atomic():
        rating = Rating.objects.select_for_update().get(pk=rating.pk)
        if rating.state != State.COUNTED:
            raise Conflict(_("Only a rating that counts can be appealed; this one is %(state)s.")
                           % {"state": rating.get_state_display()}, code="not_counted")
        if Appeal.objects.filter(rating=rating, status=Appeal.Status.PENDING).exists():
            raise Conflict(_("This rating already has an appeal waiting for a decision."), code="appeal_pending")
        appeal = Appeal.objects.create(rating=rating, by=user, reason=reason, created_at=now)
        audit.record(actor=user, action="ratings.appeal", target=appeal,
                     after={"rating": rating.pk, "reason": reason[:200]})
    return appeal


def decide_appeal(*, actor, appeal: Appeal, decision: str, reason: str, now=None) -> Appeal:
    """A reviewer (district administrator) upholds (the rating is removed from the figures and kept in
    the record) or dismisses the appeal, with reasons. Publishes ``ratings.appeal_decided``."""
    user = acting_user(actor)
    now = _now(now)
    if user is None or not has_role(user, Role.DISTRICT_ADMIN):
        raise NotAllowed(_("Only a reviewer (district administrator) may decide appeals."))
    if decision not in (Appeal.Status.UPHELD, Appeal.Status.DISMISSED):
        raise DomainError(_("Uphold or dismiss the appeal."), fields={"decision": [_("upheld or dismissed.")]})
    reason = _text(reason, field="reason", limit=NOTE_MAX)
    with transaction.atomic():
        appeal = Appeal.objects.select_for_update().get(pk=appeal.pk)
        if appeal.status != Appeal.Status.PENDING:
            raise Conflict(_("This appeal is already decided."), code="already_decided")
        if appeal.by_id == user.pk:
            raise NotAllowed(_("Nobody decides their own appeal."))
        rating = Rating.objects.select_for_update().get(pk=appeal.rating_id)
        if decision == Appeal.Status.UPHELD:
            if rating.state != State.COUNTED:
                raise Conflict(_("The rating no longer counts (%(state)s); dismiss the appeal instead.")
                               % {"state": rating.get_state_display()}, code="not_counted")
            states.change_state(rating=rating, to=State.REMOVED, actor=user, note=reason, now=now)
        appeal.status, appeal.decided_by, appeal.decided_at, appeal.decision_reason = decision, user, now, reason
        appeal.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
        audit.record(actor=user, action="ratings.appeal.decide", target=appeal,
                     before={"status": "pending"}, after={"status": decision, "rating": rating.pk,
                                                          "rating_state": rating.state, "reason": reason[:200]})
        events.publish("ratings.appeal_decided", {"appeal_id": appeal.pk, "rating_id": rating.pk,
                                                  "status": decision})
    return appeal


# --- 追评 ---------------------------------------------------------------------------------------------

def _scores(rating: Rating, scores) -> dict:
    if not scores:
        return {}
    keys = {d["key"] for d in config.dimensions(rating.subject_kind)}
    if not isinstance(scores, dict) or any(k not in keys or not isinstance(v, int) or isinstance(v, bool)
                                           or not 1 <= v <= 5 for k, v in scores.items()):
        raise DomainError(_("Rate each dimension 1 to 5."), fields={"scores": [_("Unknown dimension or level.")]})
    return dict(scores)


def add_follow_on(*, actor, rating: Rating, level, comment: str = "", scores=None, now=None) -> Rating:
    """追评: after the callback, the rater adds one follow-up rating to ``rating`` (the same subject,
    channel and units), counted like any rating."""
    user = acting_user(actor)
    now = _now(now)
    if user is None or rating.rater_id != user.pk:
        raise NotAllowed(_("Only the person who rated may add a follow-up rating."))
    if rating.follow_on_of_id is not None:
        raise Conflict(_("A follow-up rating cannot be followed up again."), code="is_follow_on")
    if not isinstance(level, int) or isinstance(level, bool) or not 1 <= level <= 5:
        raise DomainError(_("Choose a level from 1 to 5."), fields={"level": [_("1 to 5.")]})
    comment = _text(comment, field="comment", limit=COMMENT_MAX, required=False)
    scores = _scores(rating, scores)
    with transaction.atomic():
        original = Rating.objects.select_for_update().get(pk=rating.pk)
        if not FollowUp.objects.filter(rating=original, status=FollowUp.Status.DONE).exists():
            raise Conflict(_("A follow-up rating can be added once the callback is recorded."),
                           code="not_followed_up")
        if Rating.objects.filter(follow_on_of=original).exists():
            raise Conflict(_("You already added a follow-up rating to this one."), code="follow_on_exists")
        new = Rating(
            subject_kind=original.subject_kind, official_id=original.official_id, merchant_id=original.merchant_id,
            department_id=original.department_id, grid_id=original.grid_id, community_id=original.community_id,
            street_id=original.street_id, channel=original.channel, level=level, scores=scores, comment=comment,
            rater=user, rater_key=original.rater_key, rater_household_id=original.rater_household_id,
            rater_phone_index=original.rater_phone_index, real_name=original.real_name,
            period_key=period_key(now, config.settings()["period"]), case_id=original.case_id,
            case_ref=original.case_ref, state=State.COUNTED, follow_on_of=original, created_at=now)
        new.save()
        states.insert_counted(new)
        audit.record(actor=user, action="ratings.follow_on", target=new,
                     after={"follow_on_of": original.pk, "level": level})
        events.publish("ratings.rated", {"rating_id": new.pk, "subject_kind": new.subject_kind,
                                         "official_id": new.official_id, "merchant_id": new.merchant_id,
                                         "level": level, "channel": new.channel, "state": new.state})
        if new.is_bad:
            follow_up = open_follow_up(rating=new, now=now)
            first = FollowUp.objects.filter(rating=original).first()
            if first is not None and not follow_up.unit_kind and first.unit_kind:
                follow_up.unit_kind, follow_up.unit_code = first.unit_kind, first.unit_code
                follow_up.save(update_fields=["unit_kind", "unit_code"])
            events.publish("ratings.bad_rating", bad_rating_payload(new))  # the cases module follows it up
    return new


# --- merchants' replies -------------------------------------------------------------------------------

def save_reply(*, actor, rating: Rating, text: str, now=None) -> Reply:
    """The merchant's owner writes (or edits) the one public reply to a rating of their merchant."""
    user = acting_user(actor)
    now = _now(now)
    if (user is None or rating.subject_kind != SubjectKind.MERCHANT
            or rating.merchant is None or rating.merchant.owner_id != user.pk):
        raise NotAllowed(_("Only the merchant's owner may reply to its ratings."))
    text = _text(text, field="text", limit=NOTE_MAX)
    with transaction.atomic():
        Rating.objects.select_for_update().filter(pk=rating.pk).first()
        reply = Reply.objects.filter(rating=rating).first()
        before = {"text": reply.text[:200]} if reply is not None else None
        if reply is None:
            reply = Reply.objects.create(rating=rating, by=user, text=text, created_at=now, updated_at=now)
        else:
            reply.by, reply.text, reply.updated_at = user, text, now
            reply.save(update_fields=["by", "text", "updated_at"])
        audit.record(actor=user, action="ratings.reply", target=reply, before=before,
                     after={"rating": rating.pk, "text": text[:200]})
    return reply
