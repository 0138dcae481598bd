"""A bad rating opens a follow-up case (回访).

``confirm_and_rate`` publishes ``cases.bad_rating`` for a rating of 2 or less; the handler below opens
one follow-up case for the supervising level of whoever handled the rated case: a grid's workers are
supervised by their community, a community by its street, a street or a department by district
supervision. The follow-up keeps the category, the place and the reporter (so the supervisor can call
them back, and they can rate the follow-up), has one working day to respond, and links back to the
rated case (``Case.follow_up_of``; a unique constraint allows one follow-up per case).

Idempotent: the outbox runs a handler once per event, and the rated case is locked while its
follow-up is looked for and made, so the same event handled twice, or two bad ratings racing,
still give one follow-up."""
from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from kernel import audit, events
from kernel.events import handles
from kernel.selectors import module_config
from modules.cases import selectors, services
from modules.cases.models import DESCRIPTION_MAX, TITLE_MAX, AssignMode, Case, CaseEvent, OwnerLevel, UnitKind

log = logging.getLogger(__name__)
HANDLER_NAME = "cases.follow_up_bad_rating"
TOPIC = "cases.bad_rating"


def supervising_unit(case: Case) -> tuple[str, str]:
    """The unit one level above the one that handled ``case``."""
    from modules.registry.models import Community

    kind = case.responsible_kind
    if kind == UnitKind.GRID_WORKERS:
        community = case.community or (case.grid.community if case.grid_id else None)
        if community is not None:
            return UnitKind.COMMUNITY, community.code
        if case.street_id:
            return UnitKind.STREET, case.street.code
    elif kind == UnitKind.COMMUNITY:
        street = (Community.objects.filter(code=case.responsible_code).values_list("street__code", flat=True).first()
                  or (case.street.code if case.street_id else None))
        if street:
            return UnitKind.STREET, street
    return UnitKind.DISTRICT, ""


def _describe(case: Case, rating: int, comment: str) -> str:
    lines = [f"原工单 {case.ref}「{case.title}」评价 {rating} 星（满分 5 星），需回访核实。"]
    if comment.strip():
        lines.append(f"群众意见：{comment.strip()}")
    if case.result:
        lines.append(f"原办理结果：{case.result}")
    return "\n".join(lines)[:DESCRIPTION_MAX]


def open_follow_up(*, case_id: int, rating: int, comment: str = "", now=None) -> Case | None:
    """Open the follow-up of a badly rated case, or return the one it already has (None if the case
    is gone). One transaction: the follow-up, a ``follow_up_opened`` step on both timelines, an audit
    entry and a ``cases.follow_up_opened`` event."""
    now = now or timezone.now()
    with transaction.atomic():
        original = (Case.objects.select_for_update(of=("self",))
                    .select_related("category", "grid__community", "community", "street").filter(pk=case_id).first())
        if original is None:
            log.warning("bad rating of a case that no longer exists", extra={"case_id": case_id})
            return None
        existing = Case.objects.filter(follow_up_of=original).first()
        if existing is not None:
            return existing
        unit_kind, unit_code = supervising_unit(original)
        level = services.OWNER_LEVEL_OF_UNIT[UnitKind(unit_kind)]
        calendar = selectors.work_calendar(now)
        response_due = calendar.add_working_days(now, 1)
        resolution_due = calendar.add_working_days(now, module_config("cases")["resolution_days"])
        follow = Case(
            channel=original.channel, category=original.category, follow_up_of=original,
            title=f"回访：{original.title}"[:TITLE_MAX], description=_describe(original, rating, comment),
            household_id=original.household_id, compound_id=original.compound_id, grid_id=original.grid_id,
            community_id=original.community_id, street_id=original.street_id, merchant_id=original.merchant_id,
            address=original.address,
            latitude=original.latitude, longitude=original.longitude,
            reporter_id=original.reporter_id, reporter_household_id=original.reporter_household_id,
            reporter_contact_encrypted=original.reporter_contact_encrypted,
            reporter_contact_index=original.reporter_contact_index,
            status=Case.Status.SUBMITTED, assign_mode=AssignMode.DISPATCH, assignee=None,
            responsible_kind=unit_kind, responsible_code=unit_code, rlist=None,
            submitted_at=now, response_due=response_due, resolution_due=resolution_due, owner_level=level,
            next_escalation_at=response_due if level < OwnerLevel.DISTRICT else None)
        try:
            with transaction.atomic():
                follow.ref = services._next_ref(now)
                follow.save()
        except IntegrityError:
            # Someone else's follow-up of the same case won (cases_one_follow_up): it is the one.
            existing = Case.objects.filter(follow_up_of=original).first()
            if existing is not None:
                return existing
            raise
        unit = f"{unit_kind}:{unit_code}"
        CaseEvent.objects.create(case=original, at=now, kind="follow_up_opened", from_status=original.status,
                                 to_status=original.status, data={"follow_up": follow.ref, "rating": rating,
                                                                  "unit": unit})
        CaseEvent.objects.create(case=follow, at=now, kind="follow_up_opened", to_status=Case.Status.SUBMITTED,
                                 note=(comment or "")[:2000],
                                 data={"follow_up_of": original.ref, "rating": rating, "unit": unit})
        audit.record(actor=None, action="cases.follow_up.open", target=follow,
                     after={"ref": follow.ref, "follow_up_of": original.ref, "rating": rating, "unit": unit})
        events.publish("cases.follow_up_opened", {
            "case_id": follow.pk, "ref": follow.ref, "follow_up_of_id": original.pk, "rating": rating,
            "unit_kind": unit_kind, "unit_code": unit_code, "resolution_due": resolution_due.isoformat()})
    return follow


@handles(TOPIC, module="cases", name=HANDLER_NAME)
def on_bad_rating(payload, event):
    rating = payload.get("rating")
    if not isinstance(rating, int) or rating > services.BAD_RATING_MAX:
        return
    open_follow_up(case_id=payload["case_id"], rating=rating, comment=payload.get("comment") or "",
                   now=getattr(event, "created_at", None))
