"""Outbox handlers of follow-ups: the follow-up case the cases module opened for a bad rating
(``cases.follow_up_opened``) is linked to the rating's ``FollowUp``: by ``rating_id`` when the case was
opened for a rating from a code, else by the rated case (``follow_up_of_id``) for a case rating."""
from __future__ import annotations

from django.utils.dateparse import parse_datetime

from kernel.events import handles
from modules.ratings.followup.models import FollowUp
from modules.ratings.followup.services import link_case
from modules.ratings.ledger.models import Channel, State


def _follow_up(payload) -> FollowUp | None:
    rating_id = payload.get("rating_id")
    if rating_id:
        return FollowUp.objects.filter(rating_id=rating_id).first()
    case_id = payload.get("follow_up_of_id")
    if not case_id:
        return None
    return (FollowUp.objects.filter(rating__case_id=case_id, rating__channel=Channel.CASE,
                                    rating__follow_on_of__isnull=True)
            .exclude(rating__state=State.SUPERSEDED).order_by("-rating__created_at").first())


@handles("cases.follow_up_opened", module="ratings", name="ratings.link_follow_up_case")
def on_follow_up_opened(payload, event):
    follow_up = _follow_up(payload)
    if follow_up is None or not payload.get("case_id"):
        return
    due = payload.get("resolution_due")
    link_case(follow_up=follow_up, case_id=payload["case_id"], case_ref=payload.get("ref") or "",
              due_at=parse_datetime(due) if isinstance(due, str) else None,
              unit_kind=payload.get("unit_kind") or "", unit_code=payload.get("unit_code") or "")
