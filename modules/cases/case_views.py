"""The case page, a resident's cases (``mine/``) and the staff work bench (``pool/``) of the cases module.

The case page shows the timeline, where the reporter confirms and rates the result or reopens the
case; staff get the steps their role and the case's state allow. The bench: the pool they may grab
from, their own work, and what needs attention in their area (overdue, escalated to them, waiting for
a handler). The services decide; these views parse, call and render.

Anonymous reporters (where the district accepts them) follow their cases through their session:
the ids of the cases they filed are kept there, so the tracking link works in their browser only."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_safe

from kernel.errors import DomainError
from kernel.models import RoleAssignment
from kernel.permissions import has_role, role_required
from kernel.roles import STAFF_ROLES, Role
from kernel.selectors import module_config
from modules.cases import selectors, services
from modules.cases.intake import uploads
from modules.cases.models import (
    RESULT_MAX,
    AssignMode,
    Attachment,
    Case,
    CaseParticipant,
    OwnerLevel,
    UnitKind,
)
from modules.registry.models import Community, Department, Grid, Household, Resident, Street

S = Case.Status
C = Case.Channel
OPEN = [str(s) for s in Case.OPEN]
MAX_FILES = uploads.MAX_FILES
TRACKED = "cases_tracked"  # session key: ids of the cases this browser filed
TRACK_LIMIT = 50
PAGE_SIZE = 20

STATUS_LABELS = {
    S.SUBMITTED: gettext_lazy("Waiting to be taken on"),
    S.ASSIGNED: gettext_lazy("Assigned"),
    S.ACCEPTED: gettext_lazy("Accepted"),
    S.IN_PROGRESS: gettext_lazy("Being handled"),
    S.RESOLVED: gettext_lazy("Resolved, please confirm"),
    S.CLOSED: gettext_lazy("Closed"),
    S.REJECTED: gettext_lazy("Returned"),
}

# (value, label, face): five levels, 非常满意 … 非常不满意.
RATINGS = [
    (5, gettext_lazy("Very satisfied"), "😄"),
    (4, gettext_lazy("Satisfied"), "🙂"),
    (3, gettext_lazy("Fairly satisfied"), "😐"),
    (2, gettext_lazy("Dissatisfied"), "🙁"),
    (1, gettext_lazy("Very dissatisfied"), "😠"),
]
RATING_LABELS = {value: label for value, label, _face in RATINGS}

EVENT_LABELS = {
    "submitted": gettext_lazy("Reported"),
    "assigned": gettext_lazy("Dispatched to a handler"),
    "pooled": gettext_lazy("Posted to the case pool"),
    "grabbed": gettext_lazy("Taken from the pool"),
    "accepted": gettext_lazy("Taken on by the handler"),
    "started": gettext_lazy("Work started"),
    "resolved": gettext_lazy("Result given"),
    "confirmed": gettext_lazy("Confirmed and rated by the reporter"),
    "auto_closed": gettext_lazy("Closed: the reporter did not reply in time"),
    "reopened": gettext_lazy("Reopened by the reporter"),
    "transferred": gettext_lazy("Transferred to another unit"),
    "joint_handler_added": gettext_lazy("Joint handler added"),
    "rejected": gettext_lazy("Returned: not our responsibility"),
    "linked_duplicate": gettext_lazy("Merged: the same problem was reported before"),
    "duplicate_linked": gettext_lazy("Another report of the same problem was merged into this case"),
    "answered_via_parent": gettext_lazy("Answered together with the first report"),
    "escalated": gettext_lazy("Overdue: escalated"),
    "follow_up_opened": gettext_lazy("Follow-up opened after a low rating"),
}
# Timeline dot colour of each kind of step.
EVENT_TONES = {"submitted": "tone-submitted", "assigned": "tone-assigned", "pooled": "tone-submitted",
               "grabbed": "tone-assigned", "accepted": "tone-accepted", "started": "tone-in_progress",
               "resolved": "tone-resolved", "confirmed": "tone-closed", "auto_closed": "tone-closed",
               "reopened": "tone-in_progress", "escalated": "tone-rejected", "rejected": "tone-rejected",
               "linked_duplicate": "tone-rejected", "follow_up_opened": "tone-in_progress"}

ACTION_DONE = {
    "grab": gettext_lazy("The case is yours now. Take it on when you can."),
    "accept": gettext_lazy("Taken on. The reporter sees it."),
    "start": gettext_lazy("Marked as being handled."),
    "resolve": gettext_lazy("Result saved. The reporter is asked to confirm."),
    "transfer": gettext_lazy("Transferred."),
    "participant": gettext_lazy("Joint handler added."),
    "reject": gettext_lazy("The case was returned."),
    "confirm": gettext_lazy("Thank you for your rating. The case is closed."),
    "reopen": gettext_lazy("The case is open again; the handler has been told."),
}
BENCH_ROLES = (*STAFF_ROLES, Role.OFFICIAL)  # who has a work bench (the nav's "case pool" entry)


# --- small helpers ------------------------------------------------------------------------------------

def _config() -> dict:
    return module_config("cases")


def _actor(request):
    return request.user if request.user.is_authenticated else None


def _safe_next(request) -> str | None:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return None


def _case_url(case: Case) -> str:
    return reverse("cases:detail", kwargs={"key": case.ref})


def _track(request, case: Case) -> None:
    ids = [i for i in request.session.get(TRACKED, []) if i != case.pk]
    request.session[TRACKED] = [case.pk, *ids][:TRACK_LIMIT]


def _tracked_ids(request) -> list[int]:
    return [int(i) for i in request.session.get(TRACKED, []) if str(i).isdigit()]


def _own_households(user):
    if not getattr(user, "is_authenticated", False):
        return Household.objects.none()
    return (Household.objects.filter(memberships__resident__user=user, memberships__ended_at__isnull=True)
            .select_related("building__compound", "grid").distinct())


def _decorate(cases, now=None) -> list[Case]:
    """Badges a list shows: the status label, overdue, escalated (to whom)."""
    now = now or timezone.now()
    out = []
    for case in cases:
        case.status_label = STATUS_LABELS.get(case.status, case.status)
        is_open = case.status in OPEN
        case.is_overdue = is_open and case.resolution_due < now
        case.reply_overdue = is_open and case.responded_at is None and case.response_due < now
        case.owner_label = OwnerLevel(case.owner_level).label if case.escalation_level else ""
        case.needs_confirmation = case.status == S.RESOLVED
        out.append(case)
    return out


def _unit_label(kind: str, code: str) -> str:
    model = {UnitKind.GRID_WORKERS: Grid, UnitKind.COMMUNITY: Community, UnitKind.STREET: Street,
             UnitKind.DEPARTMENT: Department}.get(kind)
    name = model.objects.filter(code=code).values_list("name", flat=True).first() if model and code else None
    try:
        kind_label = UnitKind(kind).label
    except ValueError:
        kind_label = kind
    return f"{kind_label} · {name or code}" if (name or code) else str(kind_label)


def _person(user) -> str:
    return (user.display_name or user.username) if user is not None else ""


# --- who sees a case -----------------------------------------------------------------------------------

def _find(key: str) -> Case | None:
    qs = Case.objects.select_related("category", "household__building__compound", "compound", "grid__community",
                                     "community", "street", "merchant", "assignee", "reporter", "parent",
                                     "follow_up_of")
    if key.isdigit():
        return qs.filter(pk=int(key)).first() if len(key) <= 18 else None  # beyond bigint: no such case
    return qs.filter(ref=key).first()


def _in_pool(user, case: Case) -> bool:
    return bool(user.is_authenticated) and selectors.pool_for(user).filter(pk=case.pk).exists()


def _may_view(request, case: Case) -> bool:
    user = request.user
    if user.is_authenticated and (selectors.can_see(user, case) or _in_pool(user, case)):
        return True
    return case.pk in _tracked_ids(request)


def _viewable(request, key: str):
    """The case, or the response to send instead: sign-in for strangers, 404 for the signed-in
    who may not see it (the same as a case that does not exist)."""
    case = _find(key)
    if case is not None and _may_view(request, case):
        return case, None
    if not request.user.is_authenticated:
        return None, redirect_to_login(request.get_full_path())
    raise Http404


def _staff_actions(user, case: Case) -> set[str]:
    """Which staff steps to offer on the page (the services decide; this asks them)."""
    if not getattr(user, "is_authenticated", False) or not has_role(user, *BENCH_ROLES):
        return set()
    return services.allowed_actions(user, case)


# --- performing a step ---------------------------------------------------------------------------------

def _prepare_files(request) -> list:
    files = request.FILES.getlist("files")
    return uploads.prepare(files, max_files=MAX_FILES) if files else []


def _parent(user, value: str) -> Case | None:
    value = (value or "").strip()
    if not value:
        return None
    visible = selectors.cases_for(user)
    parent = visible.filter(ref=value).first() or (
        visible.filter(pk=int(value)).first() if value.isdigit() and len(value) <= 18 else None)
    if parent is None:
        raise DomainError(_("There is no case %(ref)s that you can see.") % {"ref": value},
                          fields={"parent": [_("Unknown case.")]})
    return parent


def _perform(request, case: Case, action: str) -> Case:
    user, post = request.user, request.POST
    if action == "grab":
        return services.grab_case(actor=user, case=case)
    if action == "accept":
        return services.accept_case(actor=user, case=case)
    if action == "start":
        return services.start_case(actor=user, case=case)
    if action == "resolve":
        prepared = _prepare_files(request)
        with uploads.atomic():  # a file that cannot be stored undoes the result too
            case = services.resolve_case(actor=user, case=case, result=post.get("result", ""),
                                         verified=post.get("verified", "1") == "1")
            if prepared:
                uploads.attach(actor=user, case=case, prepared=prepared, stage=Attachment.Stage.RESULT)
        return case
    if action == "confirm":
        raw = post.get("rating", "")
        return services.confirm_and_rate(actor=user, case=case, rating=int(raw) if raw.isdigit() else None,
                                         comment=post.get("comment", "").strip())
    if action == "reopen":
        return services.reopen_case(actor=user, case=case, reason=post.get("reason", ""))
    if action == "transfer":
        unit_kind, _sep, unit_code = post.get("unit", "").partition(":")
        return services.transfer_case(actor=user, case=case, unit_kind=unit_kind, unit_code=unit_code,
                                      reason=post.get("reason", ""))
    if action == "participant":
        kind, _sep, who = post.get("who", "").partition(":")
        person = get_user_model().objects.filter(pk=int(who)).first() if who.isdigit() and len(who) <= 18 else None
        services.add_participant(actor=user, case=case, kind=kind, user=person,
                                 department_code=who if kind == CaseParticipant.Kind.DEPARTMENT else "")
        return case
    if action == "reject":
        reason = post.get("reason", "")
        typed = post.get("parent", "") or post.get("parent_ref", "")
        parent = _parent(user, typed) if reason == Case.RejectReason.DUPLICATE else None
        return services.reject_case(actor=user, case=case, reason=reason, note=post.get("note", ""), parent=parent)
    raise DomainError(_("Unknown action."), fields={"action": [_("Unknown.")]})


# --- the case page -------------------------------------------------------------------------------------

def _timeline(case: Case, viewer) -> list:
    rows = list(selectors.timeline(case))
    usernames = {e.data.get("assignee") for e in rows if isinstance(e.data, dict) and e.data.get("assignee")}
    names = {u.username: _person(u) for u in get_user_model().objects.filter(username__in=usernames)}
    for e in rows:
        data = e.data if isinstance(e.data, dict) else {}
        e.label = EVENT_LABELS.get(e.kind, e.kind)
        e.tone = EVENT_TONES.get(e.kind, "tone-assigned")
        if e.actor_id and e.actor_id == case.reporter_id:
            e.who = _("You") if viewer is not None and viewer.pk == case.reporter_id else _("Reporter")
        elif e.actor_id:
            e.who = _person(e.actor)
        elif e.kind == "submitted":
            e.who = _("Anonymous")
        else:
            e.who = _("System")
        detail = ""
        if e.kind == "submitted":
            detail = Case.Channel(data["channel"]).label if data.get("channel") in C.values else ""
        elif e.kind in ("assigned",) and data.get("assignee"):
            detail = names.get(data["assignee"], data["assignee"])
        elif e.kind == "transferred" and isinstance(data.get("to"), dict):
            kind, _sep, code = str(data["to"].get("unit", "")).partition(":")
            detail = _("to %(unit)s") % {"unit": _unit_label(kind, code)}
        elif e.kind == "escalated" and data.get("owner_level") is not None:
            try:
                detail = _("now supervised by: %(owner)s") % {"owner": OwnerLevel(int(data["owner_level"])).label}
            except ValueError:
                detail = ""
        elif e.kind == "confirmed" and data.get("rating"):
            detail = str(RATING_LABELS.get(int(data["rating"]), data["rating"]))
        elif e.kind == "joint_handler_added":
            detail = str(data.get("who", ""))
        elif e.kind == "linked_duplicate":
            detail = str(data.get("parent", ""))
        elif e.kind == "duplicate_linked":
            detail = str(data.get("duplicate", ""))
        elif e.kind == "follow_up_opened":
            detail = str(data.get("follow_up") or data.get("follow_up_of") or "")
        e.detail = detail
    return rows


def _staff_choices(case: Case) -> dict:
    """Lists for the transfer, joint-handler and duplicate pickers."""
    helpers = (RoleAssignment.objects.filter(role__in=[Role.GRID_WORKER_SECTOR, Role.MEDIATOR])
               .select_related("user").order_by("role", "user__username"))
    seen, people = set(), []
    for a in helpers:
        if (a.role, a.user_id) in seen:
            continue
        seen.add((a.role, a.user_id))
        kind = CaseParticipant.Kind.SECTOR_WORKER if a.role == Role.GRID_WORKER_SECTOR else CaseParticipant.Kind.MEDIATOR
        people.append({"value": f"{kind}:{a.user_id}", "label": f"{CaseParticipant.Kind(kind).label} · {_person(a.user)}"})
    return {
        "grids": Grid.objects.select_related("community").order_by("community__code", "code"),
        "communities": Community.objects.order_by("code"),
        "streets": Street.objects.order_by("code"),
        "departments": Department.objects.order_by("code"),
        "helpers": people,
    }


def _reporter_name(case: Case) -> str:
    """For the handler: the resident's registered name where the account is bound, else the account's."""
    if case.reporter is None:
        return _("Anonymous")
    name = Resident.objects.filter(user=case.reporter).values_list("name", flat=True).first()
    return name or _person(case.reporter)


def _render_detail(request, case: Case, *, status: int = 200, errors: dict | None = None, failed: str = ""):
    user = request.user if request.user.is_authenticated else None
    _decorate([case])
    now = timezone.now()
    is_reporter = user is not None and case.reporter_id == user.pk
    reopen_until = services.reopen_until(case)
    staff = _staff_actions(request.user, case)
    attachments = list(case.attachments.order_by("uploaded_at", "id"))
    ctx = {
        "case": case,
        "timeline": _timeline(case, user),
        "photos": [a for a in attachments if a.stage == Attachment.Stage.REPORT],
        "result_photos": [a for a in attachments if a.stage == Attachment.Stage.RESULT],
        "participants": case.participants.select_related("user"),
        "is_reporter": is_reporter,
        "anonymous_tracker": user is None,
        "just_filed": request.GET.get("new") == "1",
        "can_confirm": is_reporter and case.status == S.RESOLVED,
        "can_reopen": is_reporter and case.status in (S.RESOLVED, S.CLOSED) and reopen_until is not None
        and now <= reopen_until,
        "reopen_until": reopen_until,
        "rating_label": RATING_LABELS.get(case.rating) if case.rating else "",
        "ratings": RATINGS,
        "staff": staff,
        "is_staff_viewer": user is not None and has_role(user, *BENCH_ROLES),
        "errors": errors or {},
        "failed": failed,
        "form": request.POST if request.method == "POST" else {},
        "result_max": RESULT_MAX,
        "verifiable": case.channel in services.VERIFIABLE_CHANNELS,
        "points_on": request.tenant.has_module("points"),
        "max_files": MAX_FILES,
        "reject_reasons": Case.RejectReason.choices,
        "channel_label": case.get_channel_display(),
        "unit_label": _unit_label(case.responsible_kind, case.responsible_code),
    }
    if staff & {"transfer", "participant", "reject"}:
        ctx.update(_staff_choices(case))
        visible = set(selectors.cases_for(user).values_list("pk", flat=True))
        ctx["candidates"] = [(c, round(score * 100)) for c, score in selectors.duplicate_candidates(case)
                             if c.pk in visible]
    if ctx["is_staff_viewer"]:
        ctx["reporter_contact"], ctx["reporter_contact_whole"] = services.reporter_contact(actor=user, case=case)
        ctx["reporter_name"] = _reporter_name(case)
    ended = [e for e in ctx["timeline"] if e.kind in ("rejected", "linked_duplicate")]
    ctx["rejection"] = ended[-1] if case.status == S.REJECTED and ended else None
    return render(request, "cases/detail.html", ctx, status=status)


@require_http_methods(["GET", "POST"])
def detail(request, key: str):
    """The case page: facts, photos, result, timeline; the reporter's and the handler's steps."""
    case, response = _viewable(request, key)
    if response is not None:
        return response
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            case = _perform(request, case, action)
        except DomainError as exc:
            messages.error(request, exc.message)
            return _render_detail(request, _find(str(case.pk)), status=exc.status, errors=exc.fields, failed=action)
        messages.success(request, ACTION_DONE.get(action, _("Saved.")))
        case = _find(str(case.pk))
        nxt = _safe_next(request)
        if nxt:
            return redirect(nxt)
        if not _may_view(request, case):  # e.g. transferred out of the worker's area
            return redirect("cases:pool")
        return redirect(_case_url(case))
    return _render_detail(request, case)


@require_safe
def attachment(request, key: str, attachment: str):
    """A photo or video of the case, for whoever may see the case (never a public URL)."""
    case, response = _viewable(request, key)
    if response is not None:
        return response
    row = case.attachments.select_related("case").filter(pk=int(attachment)).first() if len(attachment) <= 18 else None
    if row is None:
        raise Http404
    # Served as the API serves it: the stored content type, nosniff, byte ranges for <video>.
    from modules.cases.attachments_api import serve_attachment

    return serve_attachment(request, row)


# --- resident lists --------------------------------------------------------------------------------------

@require_safe
def mine(request):
    """The cases I reported (signed in), or those this browser filed anonymously."""
    tracked = _tracked_ids(request)
    if request.user.is_authenticated:
        qs = Case.objects.filter(Q(reporter=request.user) | Q(pk__in=tracked, reporter__isnull=True))
    elif tracked:
        qs = Case.objects.filter(pk__in=tracked)
    else:
        return redirect_to_login(request.get_full_path())
    qs = qs.select_related("category").order_by("-submitted_at", "-id")
    waiting = qs.filter(status=S.RESOLVED).count()
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    _decorate(page.object_list)
    return render(request, "cases/mine.html", {"page": page, "cases": page.object_list, "waiting": waiting,
                                               "anonymous_tracker": not request.user.is_authenticated})


# --- staff work bench -----------------------------------------------------------------------------------

def _bench(request, *, status: int = 200):
    user, now = request.user, timezone.now()
    pool = _decorate(selectors.pool_for(user).select_related("household__building__compound", "compound")[:100], now)
    work = (Case.objects.filter(Q(assignee=user) | Q(participants__user=user), status__in=OPEN)
            .select_related("category", "grid", "household__building__compound", "compound").distinct()
            .order_by("resolution_due", "id"))
    work = _decorate(work[:100], now)
    for case in work:
        case.joint = case.assignee_id != user.pk
        actions = _staff_actions(user, case)
        case.offer, case.may_handle = actions & {"accept", "start"}, bool(actions)
    for case in pool:
        case.may_handle = True  # the pool lists what this worker may grab
    scope = selectors.cases_for(user).filter(status__in=OPEN)
    attention = (scope.filter(Q(escalation_level__gt=0) | Q(resolution_due__lt=now)
                              | Q(responded_at__isnull=True, response_due__lt=now))
                 .exclude(assignee=user).select_related("category", "community")
                 .order_by("-owner_level", "resolution_due", "id"))
    attention = _decorate(attention[:50], now)
    for case in attention:  # 处理 where the user may act on it, 查看 where they only watch it
        case.may_handle = bool(_staff_actions(user, case))
    waiting = []
    for case in (scope.filter(status=S.SUBMITTED, assignee__isnull=True).exclude(assign_mode=AssignMode.GRAB)
                 .select_related("category", "community").order_by("response_due", "id")[:100]):
        if services.supervises(user, case):
            waiting.append(case)
    waiting = _decorate(waiting, now)
    for case in waiting:
        case.may_handle = bool(_staff_actions(user, case))
    return render(request, "cases/pool.html", {
        "pool": pool, "work": work, "attention": attention, "waiting": waiting,
        "grab_cap": _config().get("grab_cap_per_worker"), "holding": selectors.open_case_count(user),
        "is_grid_worker": bool(selectors.grab_grids_of(user)),
    }, status=status)


@role_required(*BENCH_ROLES)
@require_http_methods(["GET", "POST"])
def pool(request):
    """Staff: the pool to grab from, my work, and the overdue and escalated cases of my area."""
    if request.method == "POST":
        action = request.POST.get("action", "")
        raw = request.POST.get("case", "")
        case = _find(raw) if raw.isdigit() else None
        if case is None or not _may_view(request, case) or action not in ("grab", "accept", "start"):
            raise Http404
        try:
            _perform(request, case, action)
        except DomainError as exc:
            messages.error(request, f"{case.ref}: {exc.message}")
            return _bench(request, status=exc.status)
        messages.success(request, f"{case.ref}: {ACTION_DONE[action]}")
        return redirect(reverse("cases:pool") + ("#work" if action == "grab" else ""))
    return _bench(request)
