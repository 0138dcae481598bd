"""What the cases module tells people, through the one notification service (notifications.services):

- the reporter: their case accepted, resolved, escalated, closed (by them or automatically) or
  rejected, always by its reference number (KAN-20261207-0007), never an internal id;
- grid workers: a new case in the pool that they may grab (by ``services.allowed_actions``, the one
  rule of who may grab), a case dispatched to them;
- the new owners of escalated cases: one message per person and sweep, naming the references.

Each handler runs once per event (the outbox); the messages are unique per event and person."""
from __future__ import annotations

from collections import defaultdict

from django.utils.translation import gettext_lazy as _

from kernel.events import handles
from kernel.models import RoleAssignment
from kernel.roles import GRID_WORKERS, Role, ScopeKind
from modules.cases.models import Case, OwnerLevel, UnitKind
from modules.cases.selectors import DEPARTMENT_ROLES
from notifications.kinds import Bilingual, Group, Kind, register_group, register_kind
from notifications.services import Note, link, notify, to_user

SHOWN_REFS = 3

register_group(Group("cases", _("My reports"), default_channels=("wechat",), order=10))
register_group(Group("work", _("Work for me"), default_channels=("wechat",), order=40))
# Escalations were texted before the inbox existed: supervisors keep SMS by default.
register_group(Group("supervision", _("Overdue cases I supervise"), default_channels=("sms",), order=50))

_REF = (("character_string1", "ref"), ("thing2", "case_title"), ("thing3", "title"))
for key, group, title, body in [
    ("cases.accepted", "cases", _("Your report %(ref)s was accepted"),
     _("%(case_title)s: staff have taken it on and will handle it.")),
    ("cases.resolved", "cases", _("Your report %(ref)s was resolved"),
     _("%(case_title)s. Result: %(result)s. Please confirm and rate, or reopen it if the problem is still there.")),
    ("cases.escalated", "cases", _("Your report %(ref)s went to a higher level"),
     _("%(case_title)s: it took longer than its time limit, so a higher level now supervises it.")),
    ("cases.closed", "cases", _("Your report %(ref)s is closed"),
     _("%(case_title)s: thank you for reporting it.")),
    ("cases.rejected", "cases", _("Your report %(ref)s was not taken on"),
     _("%(case_title)s: %(why)s")),
    ("cases.pooled", "work", _("New case %(ref)s in the pool"),
     _("%(case_title)s (%(category)s). Grab it on your work bench if you can take it.")),
    ("cases.assigned", "work", _("Case %(ref)s was assigned to you"),
     _("%(case_title)s (%(category)s). Please accept it on your work bench.")),
]:
    register_kind(Kind(key, group, title, body, wechat=_REF))
register_kind(Kind("cases.escalated_to_you", "supervision", _("%(count)s overdue cases came to you"),
                   _("Escalated to you for supervision: %(refs)s. Please handle them on your work bench."),
                   wechat=(("character_string1", "refs"), ("thing2", "title"))))


def _words(case: Case, **extra) -> dict:
    return {"ref": case.ref, "case_title": case.title, "category": Bilingual(case.category.name_zh, case.category.name_en), **extra}


def _tell_reporter(event, kind: str, case: Case, **extra) -> None:
    if case.reporter_id and case.reporter.is_active:
        notify(event=event, kind=kind, notes=[Note(to_user(case.reporter), _words(case, **extra),
                                                   link("cases:detail", key=case.ref))])


def _case(payload) -> Case | None:
    return Case.objects.select_related("reporter", "category").filter(pk=payload["case_id"]).first()


@handles("cases.accepted", module="cases", name="cases.notify_accepted")
def on_accepted(payload, event):
    if case := _case(payload):
        _tell_reporter(event, "cases.accepted", case)


@handles("cases.resolved", module="cases", name="cases.notify_resolved")
def on_resolved(payload, event):
    if case := _case(payload):
        _tell_reporter(event, "cases.resolved", case, result=case.result.rstrip("。.！! "))


@handles("cases.closed", module="cases", name="cases.notify_closed")
def on_closed(payload, event):
    if case := _case(payload):
        _tell_reporter(event, "cases.closed", case)


@handles("cases.rejected", module="cases", name="cases.notify_rejected")
def on_rejected(payload, event):
    case = _case(payload)
    if case is None:
        return
    if case.reject_reason == Case.RejectReason.DUPLICATE and case.parent_id:
        why = _("It is the same problem as %(parent)s, which is being handled.") % {"parent": case.parent.ref}
    else:
        last = case.events.filter(kind="rejected").order_by("-at", "-id").values_list("note", flat=True).first()
        why = last or Case.RejectReason(case.reject_reason).label
    _tell_reporter(event, "cases.rejected", case, why=why)


def _tell_reporters(event, kind: str, case_ids: list[int]) -> None:
    """Sweeps (auto-close, escalation) move many cases in one event: one message per reporter, about
    their first case of it (the constraint allows one message per event and person)."""
    seen = set()
    for case in Case.objects.select_related("reporter", "category").filter(
            pk__in=case_ids, reporter__isnull=False).order_by("pk"):
        if case.reporter_id not in seen:
            seen.add(case.reporter_id)
            _tell_reporter(event, kind, case)


@handles("cases.auto_closed", module="cases", name="cases.notify_auto_closed")
def on_auto_closed(payload, event):
    _tell_reporters(event, "cases.closed", [row["case_id"] for row in payload["cases"]])


# --- staff ------------------------------------------------------------------------------------------

def grabbers_of(case: Case) -> list:
    """The workers who may grab ``case`` now. Candidates are the grid workers of the community the
    case's unit belongs to; ``allowed_actions`` (the services' rule) decides."""
    from modules.cases.services import allowed_actions
    from modules.registry.models import Grid

    if case.responsible_kind == UnitKind.GRID_WORKERS:
        community = Grid.objects.filter(code=case.responsible_code).values_list("community__code", flat=True).first()
    elif case.responsible_kind == UnitKind.COMMUNITY:
        community = case.responsible_code
    else:
        return []
    grids = list(Grid.objects.filter(community__code=community).values_list("code", flat=True))
    candidates = {a.user for a in RoleAssignment.objects.filter(
        role__in=GRID_WORKERS, scope_kind=ScopeKind.GRID, scope_code__in=grids).select_related("user")}
    return sorted((u for u in candidates if u.is_active and "grab" in allowed_actions(u, case)), key=lambda u: u.pk)


@handles("cases.submitted", module="cases", name="cases.notify_submitted")
def on_submitted(payload, event):
    case = Case.objects.select_related("category", "assignee").filter(pk=payload["case_id"]).first()
    if case is None:
        return
    address = link("cases:detail", key=case.ref)
    if case.assignee_id and case.status == Case.Status.ASSIGNED and case.assignee.is_active:
        notify(event=event, kind="cases.assigned", notes=[Note(to_user(case.assignee), _words(case), address)])
    elif not case.assignee_id:
        notify(event=event, kind="cases.pooled", notes=[Note(to_user(u), _words(case), address)
                                                        for u in grabbers_of(case)])


def owners_of(case: Case) -> list:
    """Who owns ``case`` at its current level: community staff of its community, staff over its street,
    the responsible department, or the district administrators (district supervision)."""
    level = case.owner_level
    if level == OwnerLevel.COMMUNITY and case.community_id:
        wanted = [(Role.COMMUNITY_STAFF, ScopeKind.COMMUNITY, case.community.code)]
    elif level == OwnerLevel.STREET and (case.street_id or case.community_id):
        street = case.street.code if case.street_id else case.community.street.code
        wanted = [(Role.COMMUNITY_STAFF, ScopeKind.STREET, street)]
    elif level == OwnerLevel.DEPARTMENT and case.responsible_kind == UnitKind.DEPARTMENT:
        wanted = [(role, ScopeKind.DEPARTMENT, case.responsible_code) for role in DEPARTMENT_ROLES]
    else:
        wanted = []
    users = []
    for role, kind, code in wanted:
        users += [a.user for a in RoleAssignment.objects.filter(role=role, scope_kind=kind, scope_code=code)
                  .select_related("user")]
    if not users:  # nobody at that level: district supervision hears of it
        users = [a.user for a in RoleAssignment.objects.filter(role=Role.DISTRICT_ADMIN).select_related("user")]
    return [u for u in dict.fromkeys(users) if u.is_active]


@handles("cases.escalated", module="cases", name="cases.notify_escalated")
def on_escalated(payload, event):
    """The new owners first (one message each, naming their cases), then the reporters who are not
    among them."""
    case_ids = [row["case_id"] for row in payload["cases"]]
    per_user: dict = defaultdict(list)
    for case in Case.objects.filter(pk__in=case_ids).select_related("community__street", "street"):
        for user in owners_of(case):
            per_user[user].append(case.ref)
    notes = []
    for user, refs in per_user.items():
        shown = "、".join(sorted(refs)[:SHOWN_REFS]) + ("…" if len(refs) > SHOWN_REFS else "")
        notes.append(Note(to_user(user), {"count": len(refs), "refs": shown}, link("cases:pool")))
    notify(event=event, kind="cases.escalated_to_you", notes=notes)
    _tell_reporters(event, "cases.escalated", case_ids)
