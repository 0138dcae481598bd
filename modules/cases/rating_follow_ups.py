"""Follow-up cases of bad ratings made in the ratings module (an official's or merchant's code):
``ratings.bad_rating`` opens one for the subject's unit, ``ratings.callback_recorded`` resolves it.
The ratings module is never imported: they meet through these events (docs/ratings.md).

- The unit: an official's department (``department``), a merchant's grid (``grid_workers``, dispatched
  to the grid's worker), else district supervision.
- Category ``rating_follow_up`` (差评回访), made on first use and inactive, so residents never pick it
  when they report. The case names no reporter: the rated official may be among the department's
  staff who see it, and a rater is never named to the one they rated. The callback, with the rater's
  number, is recorded on the ratings module's 差评回访 page, which the rated person cannot open. The
  deadline is the
  event's ``due_working_days`` working days on the district calendar.
- Idempotent per rating: the case keeps the rating in its ``idempotency_key`` (the kernel's hashed key
  in the namespace ``ratings.bad_rating``; the column is unique), so a redelivered or repeated event
  opens no second case."""
from __future__ import annotations

import logging

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from kernel import audit, events, idempotency
from kernel.events import handles
from modules.cases import selectors, services
from modules.cases.models import (
    DESCRIPTION_MAX,
    RESULT_MAX,
    TITLE_MAX,
    AssignMode,
    Case,
    CaseEvent,
    Category,
    OwnerLevel,
    UnitKind,
)

log = logging.getLogger(__name__)
OPEN_HANDLER = "cases.rating_follow_up"
RESOLVE_HANDLER = "cases.rating_callback"
CATEGORY = {"code": "rating_follow_up", "name_zh": "差评回访", "name_en": "Follow-up of a bad rating"}
LEVELS = {1: "非常不满意", 2: "不满意"}
OUTCOMES = {"fixed_now": "当场解决", "fixed_by_deadline": "限期解决", "explained": "解释说明"}
DEFAULT_DAYS = 15


def key_of(rating_id) -> str:
    return idempotency.stored_key("ratings.bad_rating", str(int(rating_id)))


def case_of_rating(rating_id) -> Case | None:
    return Case.objects.filter(idempotency_key=key_of(rating_id)).first()


def category() -> Category:
    found = Category.objects.filter(code=CATEGORY["code"]).first()
    if found is None:
        found, _created = Category.objects.get_or_create(
            code=CATEGORY["code"], defaults={"name_zh": CATEGORY["name_zh"], "name_en": CATEGORY["name_en"],
                                             "assign_mode": AssignMode.DISPATCH, "active": False})
    return found


def _describe(payload: dict) -> str:
    level = payload.get("level")
    lines = [f"{payload.get('subject_name') or ''}收到「{LEVELS.get(level, level)}」评价（{level} 星，满分 5 星），"
             "请在「差评回访」页面（/ratings/staff/follow-ups/）回访评价人并记录回访结果。"]
    comment = (payload.get("comment") or "").strip()
    if comment:
        lines.append(f"群众意见：{comment}")
    return "\n".join(lines)[:DESCRIPTION_MAX]


def _unit(payload: dict):
    """(unit kind, unit code, grid) of the subject."""
    from modules.registry.models import Grid

    grid = None
    if payload.get("grid_id"):
        grid = Grid.objects.select_related("community__street").filter(pk=payload["grid_id"]).first()
    if payload.get("department_code"):
        return UnitKind.DEPARTMENT, payload["department_code"], grid
    if grid is not None:
        return UnitKind.GRID_WORKERS, grid.code, grid
    return UnitKind.DISTRICT, "", None


def open_rating_follow_up(*, payload: dict, now=None) -> Case | None:
    """Open the follow-up case of a bad rating (``ratings.bad_rating``), or return the one it has."""
    now = now or timezone.now()
    if not payload.get("rating_id"):
        return None
    key = key_of(payload["rating_id"])
    existing = Case.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return existing
    unit_kind, unit_code, grid = _unit(payload)
    assignee = services.grid_worker_of(unit_code, grid=grid) if unit_kind == UnitKind.GRID_WORKERS else None
    mode = AssignMode.GRAB if unit_kind == UnitKind.GRID_WORKERS and assignee is None else AssignMode.DISPATCH
    level = services.OWNER_LEVEL_OF_UNIT[UnitKind(unit_kind)]
    calendar = selectors.work_calendar(now)
    days = payload.get("due_working_days")
    days = days if isinstance(days, int) and days > 0 else DEFAULT_DAYS
    response_due = calendar.add_working_days(now, 1)
    resolution_due = calendar.add_working_days(now, days)
    community = grid.community if grid is not None else None
    status = Case.Status.ASSIGNED if assignee is not None else Case.Status.SUBMITTED
    with transaction.atomic():
        follow = Case(
            channel=Case.Channel.SUGGESTION, category=category(),
            title=f"回访：{payload.get('subject_name') or ''}"[:TITLE_MAX], description=_describe(payload),
            grid=grid, community=community, street=community.street if community is not None else None,
            reporter=None, status=status, assign_mode=mode,
            assignee=assignee, responsible_kind=unit_kind, responsible_code=unit_code, rlist=None, submitted_at=now,
            response_due=response_due, resolution_due=resolution_due, owner_level=level,
            next_escalation_at=response_due if level < OwnerLevel.DISTRICT else None, idempotency_key=key)
        try:
            with transaction.atomic():
                follow.ref = services._next_ref(now)
                follow.save()
        except IntegrityError:
            existing = Case.objects.filter(idempotency_key=key).first()
            if existing is not None:  # a parallel delivery made it first: it is the one
                return existing
            raise
        unit = f"{unit_kind}:{unit_code}"
        timeline = [CaseEvent(case=follow, at=now, kind="follow_up_opened", to_status=Case.Status.SUBMITTED,
                              note=(payload.get("comment") or "")[:2000],
                              data={"rating_id": payload["rating_id"], "rating": payload.get("level"), "unit": unit})]
        if assignee is not None:
            timeline.append(CaseEvent(case=follow, at=now, kind="assigned", from_status=Case.Status.SUBMITTED,
                                      to_status=Case.Status.ASSIGNED,
                                      data={"assignee": assignee.username, "how": "dispatch"}))
        CaseEvent.objects.bulk_create(timeline)
        audit.record(actor=None, action="cases.follow_up.open", target=follow,
                     after={"ref": follow.ref, "rating_id": payload["rating_id"], "rating": payload.get("level"),
                            "unit": unit})
        events.publish("cases.follow_up_opened", {
            "case_id": follow.pk, "ref": follow.ref, "follow_up_of_id": None, "rating": payload.get("level"),
            "unit_kind": unit_kind, "unit_code": unit_code, "rating_id": payload["rating_id"],
            "resolution_due": resolution_due.isoformat()})
        events.publish("cases.submitted", {  # as an intake does: the grid's worker (or grabbers) hear of it
            "case_id": follow.pk, "ref": follow.ref, "channel": follow.channel, "category": follow.category.code,
            "unit_kind": unit_kind, "unit_code": unit_code, "assignee_id": assignee.pk if assignee else None})
    return follow


def _result(payload: dict) -> str:
    outcome = OUTCOMES.get(payload.get("outcome"), payload.get("outcome") or "")
    text = f"差评回访：{outcome}。"
    if payload.get("fix_by"):
        text += f"承诺 {payload['fix_by']} 前解决。"
    if payload.get("reached") is False:
        text += "（未联系上评价人）"
    return (text + "\n" + (payload.get("note") or "").strip())[:RESULT_MAX]


def resolve_by_callback(*, payload: dict, now=None) -> Case | None:
    """The unit recorded its callback: resolve the follow-up case with the callback's note, through the
    cases services when the caller may take those steps (accept, resolve), else as the callback's
    record on the case's own timeline. Nothing when the case is already resolved or closed."""
    now = now or timezone.now()
    case = None
    if payload.get("case_id"):
        case = Case.objects.filter(pk=payload["case_id"]).first()
    if case is None and payload.get("rating_id"):
        case = case_of_rating(payload["rating_id"])
    if case is None or case.status not in services.OPEN:
        return case
    actor = None
    if payload.get("called_by_id"):
        actor = get_user_model().objects.filter(pk=payload["called_by_id"], is_active=True).first()
    result = _result(payload)
    with transaction.atomic():
        if actor is not None and "accept" in services.allowed_actions(actor, case):
            case = services.accept_case(actor=actor, case=case, now=now)
        if actor is not None and "resolve" in services.allowed_actions(actor, case):
            return services.resolve_case(actor=actor, case=case, result=result, verified=False, now=now)
        return services.resolve_from_elsewhere(case=case, actor=actor, result=result, via="ratings.callback",
                                               now=now)


@handles("ratings.bad_rating", module="cases", name=OPEN_HANDLER)
def on_bad_rating(payload, event):
    open_rating_follow_up(payload=payload, now=getattr(event, "created_at", None))


@handles("ratings.callback_recorded", module="cases", name=RESOLVE_HANDLER)
def on_callback_recorded(payload, event):
    resolve_by_callback(payload=payload, now=getattr(event, "created_at", None))
