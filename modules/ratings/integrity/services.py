"""Writes of ratings.integrity: the review of held ratings (``release``, ``reject``) and the anti-gaming
pass as a recorded job (``start_scan``, ``run_scan``).

Who reviews (``may_review``): held ratings decide careers, so the review stays away from the people
concerned and close to the district.
- A district administrator reviews every held rating.
- Community staff review the held ratings of merchants (and handling units) in the place their role
  covers (street, community or grid: the rating's place, fixed when it was made).
- Ratings of officials are reviewed by district administrators only: an official's department (its
  head holds the ``official`` role over it) is the unit whose own people are rated, never its judge.
- Nobody decides a rating they gave, or one about themselves (the rated official's account, the
  merchant's owner).
Deciding needs a reason (``note``), is audited (``ratings.release`` / ``ratings.reject``) and publishes
``ratings.reviewed {rating_id, state}``."""
from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from kernel import audit, events, jobs
from kernel.errors import Conflict, DomainError, NotAllowed
from kernel.permissions import acting_user, has_role, in_scope, require_admin
from kernel.roles import Role
from modules.ratings.integrity import scan
from modules.ratings.integrity.models import ScanRun
from modules.ratings.ledger import state as states
from modules.ratings.ledger.models import Rating, State, SubjectKind

NOTE_MAX = 500
REVIEW_ROLES = (Role.DISTRICT_ADMIN, Role.COMMUNITY_STAFF)
PLACE_FIELDS = {"street": "street__code", "community": "community__code", "grid": "grid__code"}
SCAN_TASK = "modules.ratings.integrity.tasks.run_scan"
INLINE_MAX_RATINGS = 20_000  # a smaller ledger is scanned in the request
BUSY_FOR = dt.timedelta(minutes=30)  # an older unfinished run is the sweep's (resume_scans), not a block


def reviewable(user, qs: QuerySet | None = None) -> QuerySet:
    """The ratings of ``qs`` (default: all) that ``user`` may review (see the module's words)."""
    qs = Rating.objects.all() if qs is None else qs
    if acting_user(user) is None:
        return qs.none()
    if has_role(user, Role.DISTRICT_ADMIN):
        mine = qs
    elif has_role(user, Role.COMMUNITY_STAFF):
        mine = in_scope(user, qs.exclude(subject_kind=SubjectKind.OFFICIAL), roles=[Role.COMMUNITY_STAFF],
                        fields=PLACE_FIELDS)
    else:
        return qs.none()
    return mine.exclude(Q(rater=user) | Q(official__user=user) | Q(merchant__owner=user))


def may_review(user, rating: Rating) -> bool:
    return reviewable(user, Rating.objects.filter(pk=rating.pk)).exists()


def _refusal(user, rating: Rating) -> str:
    if acting_user(user) is not None and (rating.rater_id == user.pk
                                          or (rating.official_id and rating.official.user_id == user.pk)
                                          or (rating.merchant_id and rating.merchant.owner_id == user.pk)):
        return _("You gave this rating or it is about you: someone else reviews it.")
    if rating.subject_kind == SubjectKind.OFFICIAL:
        return _("Only district administrators review held ratings of officials.")
    return _("Only district administrators and community staff of the merchant's area review this rating.")


def require_reviewer(user, rating: Rating) -> None:
    if not may_review(user, rating):
        raise NotAllowed(_refusal(user, rating))


def _note(note) -> str:
    note = (note or "").strip()
    if not note:
        raise DomainError(_("Say why: the reason is kept with the decision."), code="reason_required",
                          fields={"note": [_("This field is required.")]})
    if len(note) > NOTE_MAX:
        raise DomainError(_("The reason is too long (at most %(n)d characters).") % {"n": NOTE_MAX},
                          fields={"note": [_("At most %(n)d characters.") % {"n": NOTE_MAX}]})
    return note


def _decide(*, actor, rating: Rating, note, to: str, allowed_from: tuple, action: str) -> Rating:
    note = _note(note)
    with transaction.atomic():
        rating = Rating.objects.select_for_update(of=("self",)).select_related("official", "merchant").get(
            pk=rating.pk)
        require_reviewer(actor, rating)
        if rating.state not in allowed_from:
            raise Conflict(_("This rating is %(state)s; only a held rating can be decided.")
                           % {"state": State(rating.state).label}, code="not_held")
        before = {"state": rating.state}
        states.change_state(rating=rating, to=to, actor=actor, note=note)
        audit.record(actor=actor, action=action, target=rating, before=before,
                     after={"state": rating.state, "note": note,
                            "rules": [r.get("rule") for r in rating.hold_reasons or []]})
        events.publish("ratings.reviewed", {"rating_id": rating.pk, "state": rating.state})
    return rating


def release(*, actor, rating: Rating, note: str) -> Rating:
    """A reviewer finds a held rating genuine: it counts (from now on a scan never holds it again). A
    rejected rating may be released too, when the reviewer changes their mind (with a reason)."""
    return _decide(actor=actor, rating=rating, note=note, to=State.COUNTED, allowed_from=(State.HELD, State.REJECTED),
                   action="ratings.release")


def reject(*, actor, rating: Rating, note: str) -> Rating:
    """A reviewer finds a held rating not genuine: it stays in the record and never counts."""
    return _decide(actor=actor, rating=rating, note=note, to=State.REJECTED, allowed_from=(State.HELD,),
                   action="ratings.reject")


def decide(*, actor, rating: Rating, decision: str, note: str) -> Rating:
    if decision == "release":
        return release(actor=actor, rating=rating, note=note)
    if decision == "reject":
        return reject(actor=actor, rating=rating, note=note)
    raise DomainError(_("Choose release or reject."), fields={"decision": [_("Choose release or reject.")]})


# --- the pass as a job ----------------------------------------------------------------------------------

def _work(run: ScanRun) -> None:
    """The job's work: the pass and the run's figures in one transaction (a rerun after a crash simply
    runs the pass again: it holds nothing twice)."""
    with transaction.atomic():
        result = scan.scan_all(actor=run.started_by, run_id=run.pk)
        ScanRun.objects.filter(pk=run.pk).update(
            status=ScanRun.Status.DONE, finished_at=timezone.now(), checked=result["checked"], held=result["held"],
            seconds=result["seconds"], counts={k: v for k, v in result.items() if k in scan.RULES})


SCANS = jobs.JobKind(lock="ratings-scan", model=ScanRun, task=SCAN_TASK, work=_work, queued_since="created_at")


def start_scan(*, actor, background: bool | None = None) -> ScanRun:
    """Record a run of the pass and run it: here for a small ledger, else in a worker (by task name,
    once this commits; a broker that is down leaves it queued for ``resume_scans``). One run at a time:
    409 while one is queued or running. ``actor`` None: the periodic pass."""
    if actor is not None:
        require_admin(actor, _("Only district administrators start the anti-gaming pass."))
    with transaction.atomic():
        busy = ScanRun.objects.select_for_update().filter(
            status__in=[ScanRun.Status.QUEUED, ScanRun.Status.RUNNING], created_at__gte=timezone.now() - BUSY_FOR)
        if list(busy.values_list("pk", flat=True)):
            raise Conflict(_("A pass is already running: wait for it to finish."), code="scan_running")
        run = ScanRun.objects.create(started_by=acting_user(actor))
        audit.record(actor=actor, action="ratings.scan", target=run, after={"status": run.status})
    if background is None:
        background = Rating.objects.count() > INLINE_MAX_RATINGS
    if background:
        jobs.queue(SCAN_TASK, run.pk)
    else:
        run_scan(run_id=run.pk)
    run.refresh_from_db()
    return run


def run_scan(*, run_id: int) -> ScanRun | None:
    """Run a recorded pass (what the task runs): under its lock, beating; None when another runner has it."""
    return jobs.run(SCANS, run_id)


def resume_scans() -> list[int]:
    """Runs nobody runs although they should (their worker died, their task was lost): queued again."""
    return jobs.resume(SCANS)
