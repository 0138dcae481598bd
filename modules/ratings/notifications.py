"""What the ratings module tells people, through the one notification service (driven from the
outbox, one message per event and person, in the recipient's language):

- the rated person (the official's account, the merchant's owner) hears of a bad rating, never who
  gave it (``ratings.rated`` with a bad level);
- the rater hears the outcome when the unit records its callback (``ratings.callback_recorded``);
- the rated person hears the decision on their appeal (``ratings.appeal_decided``)."""
from __future__ import annotations

from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from kernel.events import handles
from modules.ratings.followup.models import Appeal, FollowUp
from modules.ratings.ledger.models import BAD_MAX, Level, Rating
from notifications.kinds import Bilingual, Group, Kind, register_group, register_kind
from notifications.services import Note, link, notify, to_user

register_group(Group("ratings", _("Ratings"), default_channels=(), order=35))
register_kind(Kind("ratings.bad_rating", "ratings", _("You received a bad rating"),
                   _("Someone rated you \u201c%(level)s\u201d on %(date)s. %(comment)s Your unit will call them "
                     "back. If you think the rating malicious, you may appeal it."),
                   wechat=(("thing1", "title"), ("phrase2", "level"))))
register_kind(Kind("ratings.callback", "ratings", _("Your rating was followed up"),
                   _("About your rating of %(subject)s: %(outcome)s. %(note)s"),
                   wechat=(("thing1", "subject"), ("thing2", "outcome"))))
register_kind(Kind("ratings.appeal_upheld", "ratings", _("Your appeal was upheld"),
                   _("The rating of %(date)s no longer counts in your figures. The reviewer's reason: %(reason)s"),
                   wechat=(("thing1", "title"), ("thing2", "reason"))))
register_kind(Kind("ratings.appeal_dismissed", "ratings", _("Your appeal was dismissed"),
                   _("The rating of %(date)s still counts. The reviewer's reason: %(reason)s"),
                   wechat=(("thing1", "title"), ("thing2", "reason"))))

OUTCOME_WORDS = {
    FollowUp.Outcome.FIXED_NOW: _("fixed at once"),
    FollowUp.Outcome.FIXED_BY_DEADLINE: _("to be fixed by %(date)s"),
    FollowUp.Outcome.EXPLAINED: _("explained"),
}


def _subject_user(rating: Rating):
    if rating.official_id:
        return rating.official.user
    if rating.merchant_id:
        return rating.merchant.owner
    return None


def _date(at) -> str:
    return formats.date_format(timezone.localtime(at), "Y-m-d")


def _subject_name(rating: Rating) -> Bilingual:
    subject = rating.subject
    return Bilingual(subject.name if subject is not None else (rating.grid.name if rating.grid_id else ""))


class _Outcome:
    """The outcome in the recipient's language (rendered lazily, per message)."""

    def __init__(self, follow_up: FollowUp):
        self.follow_up = follow_up

    def __str__(self) -> str:
        words = str(OUTCOME_WORDS[self.follow_up.outcome])
        if self.follow_up.fix_by:
            words = words % {"date": self.follow_up.fix_by.isoformat()}
        return words


@handles("ratings.rated", module="ratings", name="ratings.notify_bad_rating")
def on_rated(payload, event):
    """The subject hears of a bad rating (without the rater's identity)."""
    level = payload.get("level")
    if not isinstance(level, int) or level > BAD_MAX:
        return
    rating = Rating.objects.select_related("official__user", "merchant__owner").filter(
        pk=payload.get("rating_id")).first()
    if rating is None:
        return
    user = _subject_user(rating)
    if user is None or not user.is_active:
        return
    words = {"level": Level(rating.level).label, "date": _date(rating.created_at),
             "comment": (rating.comment.strip() and f"\u201c{rating.comment.strip()}\u201d") or ""}
    notify(event=event, kind="ratings.bad_rating",
           notes=[Note(to_user(user), words, link("ratings:appeal-new", rating_pk=rating.pk))])


@handles("ratings.callback_recorded", module="ratings", name="ratings.notify_callback")
def on_callback_recorded(payload, event):
    """The rater hears the outcome of the callback."""
    follow_up = FollowUp.objects.select_related("rating__rater", "rating__official", "rating__merchant",
                                                "rating__grid").filter(pk=payload.get("follow_up_id")).first()
    if follow_up is None or follow_up.status != FollowUp.Status.DONE:
        return
    rater = follow_up.rating.rater
    if rater is None or not rater.is_active:
        return
    words = {"subject": _subject_name(follow_up.rating), "outcome": _Outcome(follow_up), "note": follow_up.note}
    notify(event=event, kind="ratings.callback",
           notes=[Note(to_user(rater), words, link("ratings:follow-on", rating_pk=follow_up.rating_id))])


@handles("ratings.appeal_decided", module="ratings", name="ratings.notify_appeal")
def on_appeal_decided(payload, event):
    appeal = Appeal.objects.select_related("by", "rating").filter(pk=payload.get("appeal_id")).first()
    if appeal is None or appeal.status == Appeal.Status.PENDING or appeal.by is None or not appeal.by.is_active:
        return
    kind = "ratings.appeal_upheld" if appeal.status == Appeal.Status.UPHELD else "ratings.appeal_dismissed"
    words = {"date": _date(appeal.rating.created_at), "reason": appeal.decision_reason}
    notify(event=event, kind=kind,
           notes=[Note(to_user(appeal.by), words, link("ratings:appeal-new", rating_pk=appeal.rating_id))])
