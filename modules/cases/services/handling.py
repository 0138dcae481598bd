"""Handling a case, from the pool to its end (grab, accept, start, resolve, confirm, reopen, transfer,
reject, the sweeps) and ``allowed_actions``, the one answer to "what may this user do". One function
per use case, keyword arguments, one transaction, an audit entry and a timeline event per step,
domain events through the outbox.

Every transition locks the case row (SELECT … FOR UPDATE), checks the current status (409 naming
the allowed states) and the actor's role and scope (403)."""
from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils.translation import gettext as _

from kernel import audit, events
from kernel.errors import Conflict, DomainError, NotAllowed
from kernel.permissions import acting_user as _user
from kernel.permissions import has_role, has_role_for
from kernel.roles import Role, ScopeKind
from modules.cases import selectors
from modules.cases.models import (
    RESULT_MAX,
    AssignMode,
    Case,
    CaseEvent,
    CaseParticipant,
    OwnerLevel,
    UnitKind,
)
from modules.cases.services.common import (
    BAD_RATING_MAX,
    OPEN,
    OWNER_LEVEL_OF_UNIT,
    VERIFIABLE_CHANNELS,
    S,
    _config,
    _event,
    _is_admin,
    _lock,
    _now,
    _require_status,
    _status_event,
    grid_worker_of,
)


def supervises(user, case: Case) -> bool:
    """District admins; community staff over the case's place or unit; the responsible department."""
    if not _user(user):
        return False
    if _is_admin(user):
        return True
    staff = (Role.COMMUNITY_STAFF,)
    if case.community_id and has_role_for(user, staff, ScopeKind.COMMUNITY, case.community.code):
        return True
    if case.responsible_kind == UnitKind.COMMUNITY and has_role_for(user, staff, ScopeKind.COMMUNITY,
                                                                    case.responsible_code):
        return True
    if case.responsible_kind == UnitKind.STREET and has_role_for(user, staff, ScopeKind.STREET,
                                                                 case.responsible_code):
        return True
    return case.responsible_kind == UnitKind.DEPARTMENT and has_role_for(
        user, selectors.DEPARTMENT_ROLES, ScopeKind.DEPARTMENT, case.responsible_code)


def is_handler(user, case: Case) -> bool:
    """The assignee, or someone who supervises the case."""
    return bool(_user(user)) and (case.assignee_id == user.pk or supervises(user, case))


def require_handler(user, case: Case, action: str) -> None:
    if is_handler(user, case):
        return
    raise NotAllowed(_("Only the case's handler or its supervisors may %(action)s it.") % {"action": action})


def reporter_contact(*, actor, case: Case) -> tuple[str, bool]:
    """The phone an anonymous reporter left "so the handler can call back", for ``actor``: whole (and
    recorded as access to personal data) for the case's handler (``is_handler``), masked for everyone
    else. Returns (number, whole); ("", False) when the reporter left none."""
    if not case.reporter_contact_encrypted:
        return "", False
    if not is_handler(actor, case):
        return case.reporter_contact_masked, False
    from kernel.personal import decrypt, national_phone, record_access

    record_access(actor=_user(actor), target=case, field="reporter_contact", purpose="call back the reporter")
    return national_phone(decrypt(case.reporter_contact_encrypted)), True


def _may_accept(user, case: Case) -> bool:
    """A submitted, unassigned case that is not in the pool: its unit's staff; an assigned case: the
    assignee (or a district admin)."""
    if case.status == S.SUBMITTED:
        return case.assign_mode != AssignMode.GRAB and supervises(user, case)
    return bool(_user(user)) and (case.assignee_id == user.pk or _is_admin(user))


# The states each staff step starts from; the services refuse others (409), and the pages offer a step
# only where ``allowed_actions`` finds it.
ACTION_STATUSES = {
    "grab": [S.SUBMITTED], "accept": [S.ASSIGNED, S.SUBMITTED], "start": [S.ACCEPTED],
    "resolve": [S.ACCEPTED, S.IN_PROGRESS], "transfer": OPEN, "participant": OPEN, "reject": OPEN,
}


def allowed_actions(user, case: Case) -> set[str]:
    """The staff steps ``user`` may take on ``case`` now, by the same rules the services apply."""
    if not _user(user):
        return set()
    found = {action for action in ("start", "resolve", "transfer", "participant", "reject")
             if case.status in ACTION_STATUSES[action]} if is_handler(user, case) else set()
    if case.status in ACTION_STATUSES["accept"] and _may_accept(user, case):
        found.add("accept")
    if case.status in ACTION_STATUSES["grab"] and case.assign_mode == AssignMode.GRAB and not case.assignee_id:
        grids = selectors.grab_grids_of(user)
        if grids and Case.objects.filter(selectors.pool_condition(grids), pk=case.pk).exists():
            found.add("grab")
    return found


def _require_reporter(user, case: Case, action: str) -> None:
    if not (_user(user) and case.reporter_id == user.pk):
        raise NotAllowed(_("Only the person who reported the case may %(action)s it.") % {"action": action})


# --- grab, accept, start, resolve --------------------------------------------------------------------

def grab_case(*, actor, case: Case, now=None) -> Case:
    """First come wins: the case row is locked; a second grabber sees it taken (409). The worker's
    row is locked too, so one worker's parallel grabs cannot overrun their cap."""
    user = _user(actor)
    now = _now(now)
    if user is None:
        raise NotAllowed(_("Sign in to grab cases."))
    grids = selectors.grab_grids_of(user)
    with transaction.atomic():
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        case = _lock(case)
        _require_status(case, ACTION_STATUSES["grab"], "grab")
        if case.assignee_id or case.assign_mode != AssignMode.GRAB:
            raise Conflict(_("This case is not in the pool."), code="not_in_pool")
        if not grids or not Case.objects.filter(selectors.pool_condition(grids), pk=case.pk).exists():
            raise NotAllowed(_("Only grid workers of the case's area may grab it."))
        cap = _config()["grab_cap_per_worker"]
        if selectors.open_case_count(user) >= cap:
            raise Conflict(_("You already handle %(n)d open cases, the most one worker may hold; finish one first.")
                           % {"n": cap}, code="grab_cap")
        case.status, case.assignee = S.ASSIGNED, user
        case.save(update_fields=["status", "assignee", "updated_at"])
        _event(case, kind="grabbed", actor=user, at=now, from_status=S.SUBMITTED, to_status=S.ASSIGNED)
        audit.record(actor=user, action="cases.grab", target=case, after={"assignee": user.username})
        _status_event("cases.assigned", case, how="grab")
    return case


def accept_case(*, actor, case: Case, now=None) -> Case:
    """The assignee takes the case on (this is the reply). Unit staff accept unassigned community or
    department cases themselves and become the assignee."""
    user = _user(actor)
    now = _now(now)
    with transaction.atomic():
        case = _lock(case)
        _require_status(case, ACTION_STATUSES["accept"], "accept")
        if not _may_accept(user, case):
            if case.status == S.SUBMITTED:
                raise NotAllowed(_("Only the responsible unit's staff may accept an unassigned case."))
            raise NotAllowed(_("Only the assigned worker may accept this case."))
        if case.status == S.SUBMITTED:
            case.assignee = user
        before = case.status
        case.status = S.ACCEPTED
        case.responded_at = case.responded_at or now
        case.next_escalation_at = max(case.resolution_due, now) if case.owner_level < OwnerLevel.DISTRICT else None
        case.save(update_fields=["status", "assignee", "responded_at", "next_escalation_at", "updated_at"])
        _event(case, kind="accepted", actor=user, at=now, from_status=before, to_status=S.ACCEPTED)
        audit.record(actor=user, action="cases.accept", target=case, before={"status": before})
        _status_event("cases.accepted", case)
    return case


def start_case(*, actor, case: Case, now=None) -> Case:
    user = _user(actor)
    now = _now(now)
    with transaction.atomic():
        case = _lock(case)
        _require_status(case, ACTION_STATUSES["start"], "start")
        require_handler(user, case, "start")
        case.status = S.IN_PROGRESS
        case.save(update_fields=["status", "updated_at"])
        _event(case, kind="started", actor=user, at=now, from_status=S.ACCEPTED, to_status=S.IN_PROGRESS)
        audit.record(actor=user, action="cases.start", target=case)
        _status_event("cases.started", case)
    return case


def resolve_case(*, actor, case: Case, result: str, verified: bool = True, now=None) -> Case:
    """Record the result. Duplicates linked to this case receive the same answer. A verified
    report or praise feeds points (through ``cases.verified_report``) where that module is on."""
    user = _user(actor)
    now = _now(now)
    result = (result or "").strip()
    if not result:
        raise DomainError(_("Say what was done (the result)."), fields={"result": [_("Required.")]})
    if len(result) > RESULT_MAX:
        raise DomainError(_("At most %(n)d characters.") % {"n": RESULT_MAX}, fields={"result": [_("Too long.")]})
    with transaction.atomic():
        case = _lock(case)
        _require_status(case, ACTION_STATUSES["resolve"], "resolve")
        require_handler(user, case, "resolve")
        return _resolve(case, user=user, result=result, verified=verified, now=now)


def resolve_from_elsewhere(*, case: Case, actor, result: str, via: str, now=None) -> Case:
    """Resolve an open case whose work was done and recorded in another module (``via``, e.g. a
    rating's callback recorded by the unit on the ratings pages): no handler check, since the other
    module checked who did it; unverified; the timeline and the audit say where it came from. A case
    no longer open is returned as it is."""
    now = _now(now)
    with transaction.atomic():
        case = _lock(case)
        if case.status not in OPEN:
            return case
        return _resolve(case, user=actor if getattr(actor, "pk", None) else None, result=result[:RESULT_MAX],
                        verified=False, now=now, via=via)


def _resolve(case: Case, *, user, result: str, verified: bool, now, via: str | None = None) -> Case:
    """The resolution itself (the case locked, the checks done): status, timeline, duplicates answered,
    audit, events."""
    before = case.status
    case.status, case.result, case.resolved_at, case.next_escalation_at = S.RESOLVED, result, now, None
    case.responded_at = case.responded_at or now
    case.save(update_fields=["status", "result", "resolved_at", "responded_at", "next_escalation_at",
                             "updated_at"])
    where = {"via": via} if via else {}
    _event(case, kind="resolved", actor=user, at=now, from_status=before, to_status=S.RESOLVED, note=result,
           data={"verified": verified, **where})
    duplicate_ids = _answer_duplicates(case, actor=user, now=now)
    audit.record(actor=user, action="cases.resolve", target=case, before={"status": before},
                 after={"result": result[:200], "verified": verified, **where})
    events.publish("cases.resolved", {"case_id": case.pk, "ref": case.ref, "channel": case.channel,
                                      "duplicate_ids": duplicate_ids})
    if verified and case.channel in VERIFIABLE_CHANNELS and case.follow_up_of_id is None:  # counted once
        events.publish("cases.verified_report", {
            "case_id": case.pk, "ref": case.ref, "channel": case.channel, "category": case.category.code,
            "reporter_user_id": case.reporter_id, "reporter_household_id": case.reporter_household_id,
            "offender_household_id": case.household_id if case.channel == Case.Channel.OUTDOOR_REPORT else None,
            "praised_household_id": case.household_id if case.channel == Case.Channel.OUTDOOR_PRAISE else None,
        })
    return case


def _answer_duplicates(case: Case, *, actor, now) -> list[int]:
    children = list(Case.objects.select_for_update().filter(parent=case))
    for child in children:
        child.result = case.result
        child.save(update_fields=["result", "updated_at"])
        _event(child, kind="answered_via_parent", actor=actor, at=now, from_status=child.status,
               note=case.result, data={"parent": case.ref})
    return [c.pk for c in children]


# --- reporter: confirm and rate, reopen ----------------------------------------------------------------

def confirm_and_rate(*, actor, case: Case, rating: int, comment: str = "", now=None) -> Case:
    user = _user(actor)
    now = _now(now)
    if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
        raise DomainError(_("Rate from 1 (very dissatisfied) to 5 (very satisfied)."),
                          fields={"rating": [_("A whole number from 1 to 5.")]})
    with transaction.atomic():
        case = _lock(case)
        _require_reporter(user, case, "confirm")
        _require_status(case, [S.RESOLVED], "confirm")
        case.status, case.rating, case.closed_at = S.CLOSED, rating, now
        case.save(update_fields=["status", "rating", "closed_at", "updated_at"])
        _event(case, kind="confirmed", actor=user, at=now, from_status=S.RESOLVED, to_status=S.CLOSED,
               note=comment[:2000], data={"rating": rating})
        audit.record(actor=user, action="cases.confirm", target=case, after={"rating": rating})
        events.publish("cases.closed", {"case_id": case.pk, "ref": case.ref, "rating": rating, "auto": False,
                                        # what a ratings ledger needs to count the rating (一事一评)
                                        "assignee_id": case.assignee_id, "grid_id": case.grid_id,
                                        "reporter_id": user.pk, "comment": comment[:500],
                                        "closed_at": now.isoformat(), "follow_up_of_id": case.follow_up_of_id})
        if rating <= BAD_RATING_MAX:
            events.publish("cases.bad_rating", {"case_id": case.pk, "ref": case.ref, "rating": rating,
                                                "assignee_id": case.assignee_id, "comment": comment[:500]})
    return case


def reopen_until(case: Case, config: dict | None = None) -> dt.datetime | None:
    """Until when the reporter may reopen a resolved case (``reopen_days`` after its result)."""
    if case.resolved_at is None:
        return None
    return case.resolved_at + dt.timedelta(days=(config or _config()).get("reopen_days", 7))


def reopen_case(*, actor, case: Case, reason: str, now=None) -> Case:
    user = _user(actor)
    now = _now(now)
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Say why the problem is not solved."), fields={"reason": [_("Required.")]})
    config = _config()
    with transaction.atomic():
        case = _lock(case)
        _require_reporter(user, case, "reopen")
        _require_status(case, [S.RESOLVED, S.CLOSED], "reopen")
        until = reopen_until(case, config)
        if until is not None and now > until:
            raise Conflict(_("A case can be reopened within %(d)d days of its result; report it anew.")
                           % {"d": config.get("reopen_days", 7)}, code="reopen_window_passed")
        before = case.status
        case.status = S.ASSIGNED if case.assignee_id else S.SUBMITTED
        case.resolved_at = case.closed_at = case.rating = None
        case.reopen_count += 1
        case.resolution_due = selectors.work_calendar(now).add_working_days(now, config["resolution_days"])
        case.next_escalation_at = case.resolution_due if case.owner_level < OwnerLevel.DISTRICT else None
        case.save(update_fields=["status", "resolved_at", "closed_at", "rating", "reopen_count", "resolution_due",
                                 "next_escalation_at", "updated_at"])
        _event(case, kind="reopened", actor=user, at=now, from_status=before, to_status=case.status, note=reason)
        audit.record(actor=user, action="cases.reopen", target=case, before={"status": before},
                     after={"reason": reason[:200]})
        _status_event("cases.reopened", case)
    return case


def auto_close(*, now=None, chunk: int = 1000) -> int:
    """Close resolved cases the reporter left quiet for ``auto_close_days`` (set-based); listeners hear
    ``cases.auto_closed`` with the closed cases, ``chunk`` to an event."""
    now = _now(now)
    cutoff = now - dt.timedelta(days=_config()["auto_close_days"])
    case_table, event_table = Case._meta.db_table, CaseEvent._meta.db_table
    sql = f"""
        WITH closed AS (
            UPDATE {case_table} SET status = 'closed', closed_at = %(now)s, updated_at = %(now)s
            WHERE status = 'resolved' AND resolved_at <= %(cutoff)s
            RETURNING id, ref
        ), timeline AS (
            INSERT INTO {event_table} (case_id, at, actor_id, kind, from_status, to_status, note, data)
            SELECT id, %(now)s, NULL, 'auto_closed', 'resolved', 'closed', '', '{{}}'::jsonb FROM closed
        )
        SELECT id, ref FROM closed
    """  # noqa: S608 - table names from _meta
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql, {"now": now, "cutoff": cutoff})
            rows = cursor.fetchall()
        for start in range(0, len(rows), chunk):  # one event per chunk, as the escalation sweep
            events.publish("cases.auto_closed", {"cases": [{"case_id": case_id, "ref": ref}
                                                           for case_id, ref in rows[start:start + chunk]]})
        if rows:
            audit.record(actor=None, action="cases.auto_close", target_type="cases.case", target_id="*",
                         after={"count": len(rows), "cutoff": cutoff.isoformat()})
    return len(rows)


# --- transfer, joint handling, rejection, duplicates -------------------------------------------------

def _check_unit(kind: str, code: str) -> None:
    from modules.registry.models import Community, Department, Grid, Street

    model = {UnitKind.GRID_WORKERS: Grid, UnitKind.COMMUNITY: Community, UnitKind.STREET: Street,
             UnitKind.DEPARTMENT: Department}.get(kind)
    if model is None:
        raise DomainError(_("Transfer to a grid's workers, a community, a street or a department."),
                          fields={"unit_kind": [_("Unknown unit kind.")]})
    if not model.objects.filter(code=code).exists():
        raise DomainError(_("There is no %(kind)s %(code)s.") % {"kind": kind, "code": code},
                          fields={"unit_code": [_("Unknown code.")]})


def transfer_case(*, actor, case: Case, unit_kind: str, unit_code: str, reason: str, now=None) -> Case:
    user = _user(actor)
    now = _now(now)
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Say why the case goes to another unit."), fields={"reason": [_("Required.")]})
    _check_unit(unit_kind, unit_code)
    with transaction.atomic():
        case = _lock(case)
        _require_status(case, ACTION_STATUSES["transfer"], "transfer")
        require_handler(user, case, "transfer")
        before = {"status": case.status, "unit": f"{case.responsible_kind}:{case.responsible_code}",
                  "assignee": getattr(case.assignee, "username", None)}
        assignee = grid_worker_of(unit_code) if (
            unit_kind == UnitKind.GRID_WORKERS and case.assign_mode == AssignMode.DISPATCH) else None
        case.responsible_kind, case.responsible_code = unit_kind, unit_code
        case.assignee = assignee
        case.status = S.ASSIGNED if assignee else S.SUBMITTED
        if unit_kind == UnitKind.GRID_WORKERS and assignee is None and case.assign_mode == AssignMode.DISPATCH:
            case.assign_mode = AssignMode.GRAB
        case.owner_level = max(case.owner_level, OWNER_LEVEL_OF_UNIT[UnitKind(unit_kind)])
        case.save(update_fields=["responsible_kind", "responsible_code", "assignee", "status", "assign_mode",
                                 "owner_level", "updated_at"])
        after = {"status": case.status, "unit": f"{unit_kind}:{unit_code}",
                 "assignee": getattr(assignee, "username", None)}
        _event(case, kind="transferred", actor=user, at=now, from_status=before["status"], to_status=case.status,
               note=reason, data={"from": before, "to": after})
        audit.record(actor=user, action="cases.transfer", target=case, before=before, after=after)
        _status_event("cases.transferred", case, unit=f"{case.responsible_kind}:{case.responsible_code}")
    return case


def add_participant(*, actor, case: Case, kind: str, user=None, department_code: str = "", now=None
                    ) -> CaseParticipant:
    """Joint handling: a sector grid worker, a mediator or a department joins the case."""
    acting = _user(actor)
    now = _now(now)
    if kind == CaseParticipant.Kind.DEPARTMENT:
        from modules.registry.models import Department

        if not Department.objects.filter(code=department_code).exists():
            raise DomainError(_("There is no department %(c)s.") % {"c": department_code},
                              fields={"department_code": [_("Unknown department.")]})
        user = None
    elif kind in (CaseParticipant.Kind.SECTOR_WORKER, CaseParticipant.Kind.MEDIATOR):
        role = Role.GRID_WORKER_SECTOR if kind == CaseParticipant.Kind.SECTOR_WORKER else Role.MEDIATOR
        if user is None or not has_role(user, role):
            raise DomainError(_("That person is not a %(r)s.") % {"r": Role(role).label},
                              fields={"user": [_("Wrong role.")]})
        department_code = ""
    else:
        raise DomainError(_("Unknown kind of participant."), fields={"kind": [_("Unknown.")]})
    with transaction.atomic():
        case = _lock(case)
        _require_status(case, ACTION_STATUSES["participant"], "add handlers to")
        require_handler(acting, case, "add handlers to")
        who = user.username if user else department_code
        same = CaseParticipant.objects.filter(case=case)
        same = same.filter(user=user) if user else same.filter(department_code=department_code)
        if same.exists():
            raise Conflict(_("%(who)s already handles this case.") % {"who": who}, code="already_participant")
        participant = CaseParticipant.objects.create(case=case, kind=kind, user=user, department_code=department_code,
                                                     added_at=now, added_by=acting)
        _event(case, kind="joint_handler_added", actor=acting, at=now, from_status=case.status,
               data={"kind": kind, "who": who})
        audit.record(actor=acting, action="cases.add_participant", target=case, after={"kind": kind, "who": who})
    return participant


def reject_case(*, actor, case: Case, reason: str, note: str = "", parent: Case | None = None, now=None) -> Case:
    user = _user(actor)
    now = _now(now)
    if reason not in Case.RejectReason.values:
        raise DomainError(_("A rejection says why: not our responsibility, or duplicate."),
                          fields={"reason": [_("Unknown reason.")]})
    if reason == Case.RejectReason.DUPLICATE:
        if parent is None:
            raise DomainError(_("Name the case this one duplicates."), fields={"parent": [_("Required.")]})
        while parent.parent_id:  # always link to the root
            parent = parent.parent
        if parent.pk == case.pk:
            raise DomainError(_("A case cannot duplicate itself."), fields={"parent": [_("Same case.")]})
    else:
        parent = None
        if not note.strip():
            raise DomainError(_("Say whose responsibility it is, so the reporter knows."),
                              fields={"note": [_("Required.")]})
    with transaction.atomic():
        case = _lock(case)
        _require_status(case, ACTION_STATUSES["reject"], "reject")
        require_handler(user, case, "reject")
        before = case.status
        case.status, case.reject_reason, case.parent, case.next_escalation_at = S.REJECTED, reason, parent, None
        case.responded_at = case.responded_at or now
        if parent is not None and parent.status in (S.RESOLVED, S.CLOSED):
            case.result = parent.result
        case.save(update_fields=["status", "reject_reason", "parent", "next_escalation_at", "responded_at", "result",
                                 "updated_at"])
        data = {"reason": reason} | ({"parent": parent.ref} if parent else {})
        _event(case, kind="linked_duplicate" if parent else "rejected", actor=user, at=now, from_status=before,
               to_status=S.REJECTED, note=note, data=data)
        if parent is not None:
            _event(parent, kind="duplicate_linked", actor=user, at=now, from_status=parent.status,
                   data={"duplicate": case.ref, "channel": case.channel})
        audit.record(actor=user, action="cases.reject", target=case, before={"status": before}, after=data)
        events.publish("cases.rejected", {"case_id": case.pk, "ref": case.ref, "reason": reason,
                                          "parent_id": parent.pk if parent else None, "channel": case.channel})
    return case


def link_duplicate(*, actor, case: Case, parent: Case, now=None) -> Case:
    """The same problem came in twice (e.g. hotline and snap report): the handler answers the parent once."""
    return reject_case(actor=actor, case=case, reason=Case.RejectReason.DUPLICATE, parent=parent, now=now)


# --- escalation sweep ----------------------------------------------------------------------------------

def escalate_overdue(*, now=None, chunk: int = 1000) -> int:
    """One set-based pass: every open case past its next escalation time moves one owner level up
    (grid worker → community → street → department → district supervision), gets a timeline event,
    and its new owner is notified through ``cases.escalated``. One statement does the move and the
    timeline, so a concurrent sweep cannot move a case twice."""
    now = _now(now)
    step = dt.timedelta(hours=_config().get("escalation_step_hours", 24))
    case_table, event_table = Case._meta.db_table, CaseEvent._meta.db_table
    sql = f"""
        WITH moved AS (
            UPDATE {case_table} SET owner_level = owner_level + 1, escalation_level = escalation_level + 1,
                next_escalation_at = CASE WHEN owner_level + 1 >= %(top)s THEN NULL ELSE %(next)s END,
                updated_at = %(now)s
            WHERE next_escalation_at <= %(now)s AND status = ANY(%(open)s) AND owner_level < %(top)s
            RETURNING id, status, owner_level, assignee_id
        ), timeline AS (
            INSERT INTO {event_table} (case_id, at, actor_id, kind, from_status, to_status, note, data)
            SELECT id, %(now)s, NULL, 'escalated', status, status, '', jsonb_build_object('owner_level', owner_level)
            FROM moved
        )
        SELECT id, owner_level, assignee_id FROM moved
    """  # noqa: S608 - table names from _meta
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql, {"now": now, "next": now + step, "top": int(OwnerLevel.DISTRICT),
                                 "open": [str(s) for s in OPEN]})
            rows = cursor.fetchall()
        for start in range(0, len(rows), chunk):
            events.publish("cases.escalated", {"cases": [
                {"case_id": r[0], "owner_level": OwnerLevel(r[1]).name.lower(), "assignee_id": r[2]}
                for r in rows[start:start + chunk]]})
        if rows:
            audit.record(actor=None, action="cases.escalate", target_type="cases.case", target_id="*",
                         after={"count": len(rows)})
    return len(rows)
