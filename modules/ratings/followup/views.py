"""Portal pages of follow-ups (phone first): the staff's follow-ups with the callback rate and the
callback form (the rater's masked phone and a tel: link), the reviewer's appeals, and the forms of the
rated person (appeal), the rater (追评) and the merchant's owner (reply). The services decide; these
views parse, call and render."""
from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from kernel.errors import DomainError
from kernel.permissions import has_role
from kernel.personal import mask_phone, national_phone, record_access
from kernel.roles import GRID_WORKERS, Role
from modules.ratings.followup import selectors, services
from modules.ratings.followup.models import NOTE_MAX, Appeal, FollowUp, Reply
from modules.ratings.ledger.models import COMMENT_MAX, Level, Rating

STAFF = (Role.DISTRICT_ADMIN, Role.COMMUNITY_STAFF, Role.OFFICIAL, *GRID_WORKERS)
PAGE_SIZE = 20
LEVELS = [(value, label) for value, label in Level.choices]


def _require(request, *roles) -> None:
    if not has_role(request.user, *roles):
        raise PermissionDenied


def _rating(pk: int) -> Rating:
    return get_object_or_404(Rating.objects.select_related("official__department", "merchant", "grid"), pk=pk)


def _fail(exc: DomainError) -> dict:
    return {"error": exc.message, "errors": exc.fields, "status": exc.status}


# --- staff: follow-ups ------------------------------------------------------------------------------

@login_required
@require_safe
def follow_ups(request):
    """/ratings/staff/follow-ups/: the unit's open follow-ups first (overdue marked), the callback rate."""
    _require(request, *STAFF)
    wanted = request.GET.get("status") if request.GET.get("status") in FollowUp.Status.values else None
    page = Paginator(selectors.follow_ups_for(request.user, status=wanted), PAGE_SIZE).get_page(request.GET.get("page"))
    for row in page.object_list:
        row.overdue = selectors.is_overdue(row)
        row.subject_name = services.subject_name(row.rating)
    rate = selectors.callback_rate(units=selectors.units_of(request.user))
    return render(request, "ratings/followup/follow_ups.html", {
        "page": page, "follow_ups": page.object_list, "rate": rate, "status": wanted or ""})


def _date(raw: str):
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise DomainError(_("Give a date."), fields={"fix_by": [_("Not a date.")]}) from None


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def follow_up(request, pk: int):
    """/ratings/staff/follow-ups/<pk>/: the rating, the rater's phone to call, the callback form."""
    _require(request, *STAFF)
    item = selectors.follow_up_for(request.user, pk)
    if item is None:
        raise Http404
    form, failed = {"outcome": "", "reached": "", "note": "", "fix_by": ""}, {}
    if request.method == "POST" and item.status == FollowUp.Status.OPEN:
        form = {k: request.POST.get(k, "") for k in form}
        reached = {"yes": True, "no": False}.get(form["reached"])
        try:
            services.record_callback(actor=request.user, follow_up=item, outcome=form["outcome"], note=form["note"],
                                     reached=reached, fix_by=_date(form["fix_by"]))
        except DomainError as exc:
            failed = _fail(exc)
        else:
            messages.success(request, _("The callback is recorded. The rater will be told."))
            return redirect("ratings:follow-up", pk=item.pk)
    phone = selectors.rater_phone(item) if item.status == FollowUp.Status.OPEN else ""
    if phone:
        record_access(actor=request.user, target=item.rating, field="rater_phone", purpose="call back the rater")
    return render(request, "ratings/followup/follow_up.html", {
        "item": item, "rating": item.rating, "subject_name": services.subject_name(item.rating),
        "overdue": selectors.is_overdue(item), "phone_masked": mask_phone(phone) if phone else "",
        "phone_tel": phone, "phone_national": national_phone(phone) if phone else "",
        "outcomes": FollowUp.Outcome.choices, "form": form, "note_max": NOTE_MAX, **failed,
    }, status=failed.get("status", 200))


# --- staff: appeals -----------------------------------------------------------------------------------

@login_required
@require_safe
def appeals(request):
    """/ratings/staff/appeals/: pending appeals first (reviewers)."""
    _require(request, Role.DISTRICT_ADMIN)
    wanted = request.GET.get("status") if request.GET.get("status") in Appeal.Status.values else None
    page = Paginator(selectors.appeals_for(request.user, status=wanted), PAGE_SIZE).get_page(request.GET.get("page"))
    for row in page.object_list:
        row.subject_name = services.subject_name(row.rating)
    return render(request, "ratings/followup/appeals.html", {"page": page, "appeals": page.object_list,
                                                             "status": wanted or ""})


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def appeal(request, pk: int):
    """/ratings/staff/appeals/<pk>/: the rating, the appeal, the decision."""
    _require(request, Role.DISTRICT_ADMIN)
    item = get_object_or_404(selectors.appeals_for(request.user), pk=pk)
    form, failed = {"decision": "", "reason": ""}, {}
    if request.method == "POST" and item.status == Appeal.Status.PENDING:
        form = {k: request.POST.get(k, "") for k in form}
        try:
            services.decide_appeal(actor=request.user, appeal=item, decision=form["decision"], reason=form["reason"])
        except DomainError as exc:
            failed = _fail(exc)
        else:
            messages.success(request, _("The appeal is decided. The rated person will be told."))
            return redirect("ratings:appeal", pk=item.pk)
    follow_up = FollowUp.objects.filter(rating=item.rating).first()
    return render(request, "ratings/followup/appeal.html", {
        "item": item, "rating": item.rating, "subject_name": services.subject_name(item.rating),
        "follow_up": follow_up, "form": form, "note_max": NOTE_MAX, **failed}, status=failed.get("status", 200))


# --- the rated person, the rater, the merchant --------------------------------------------------------

@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def appeal_new(request, rating_pk: int):
    """/ratings/appeal/<rating_pk>/: the rated person's appeal (they never see who rated)."""
    rating = _rating(rating_pk)
    if not selectors.appealable(request.user, rating):
        raise Http404
    reason, failed = "", {}
    if request.method == "POST":
        reason = request.POST.get("reason", "")
        try:
            services.file_appeal(actor=request.user, rating=rating, reason=reason)
        except DomainError as exc:
            failed = _fail(exc)
        else:
            messages.success(request, _("Your appeal was sent to the reviewers. Their decision will appear here."))
            return redirect("ratings:appeal-new", rating_pk=rating.pk)
    earlier = Appeal.objects.filter(rating=rating).order_by("-created_at", "-id")
    return render(request, "ratings/followup/appeal_new.html", {
        "rating": rating, "subject_name": services.subject_name(rating), "appeals": earlier,
        "pending": any(a.status == Appeal.Status.PENDING for a in earlier), "reason": reason,
        "reply": Reply.objects.filter(rating=rating).first(), "note_max": NOTE_MAX, **failed,
    }, status=failed.get("status", 200))


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def follow_on(request, rating_pk: int):
    """/ratings/follow-on/<rating_pk>/: the rater's one follow-up rating (追评), after the callback."""
    rating = _rating(rating_pk)
    if rating.rater_id != request.user.pk:
        raise Http404
    form, failed = {"level": "", "comment": ""}, {}
    if request.method == "POST":
        form = {k: request.POST.get(k, "") for k in form}
        try:
            level = int(form["level"])
        except ValueError:
            level = None
        try:
            services.add_follow_on(actor=request.user, rating=rating, level=level, comment=form["comment"])
        except DomainError as exc:
            failed = _fail(exc)
        else:
            messages.success(request, _("Thank you. Your follow-up rating is recorded."))
            return redirect("ratings:follow-on", rating_pk=rating.pk)
    item = FollowUp.objects.filter(rating=rating).first()
    added = Rating.objects.filter(follow_on_of=rating).first()
    return render(request, "ratings/followup/follow_on.html", {
        "rating": rating, "subject_name": services.subject_name(rating), "item": item, "added": added,
        "ready": item is not None and item.status == FollowUp.Status.DONE and added is None
        and rating.follow_on_of_id is None, "levels": LEVELS, "form": form, "comment_max": COMMENT_MAX, **failed,
    }, status=failed.get("status", 200))


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def reply(request, rating_pk: int):
    """/ratings/reply/<rating_pk>/: the merchant's owner writes or edits the public reply."""
    rating = _rating(rating_pk)
    if rating.merchant is None or rating.merchant.owner_id != request.user.pk:
        raise Http404
    current = Reply.objects.filter(rating=rating).first()
    text, failed = (current.text if current else ""), {}
    if request.method == "POST":
        text = request.POST.get("text", "")
        try:
            services.save_reply(actor=request.user, rating=rating, text=text)
        except DomainError as exc:
            failed = _fail(exc)
        else:
            messages.success(request, _("Your reply is published."))
            return redirect("ratings:reply", rating_pk=rating.pk)
    return render(request, "ratings/followup/reply.html", {
        "rating": rating, "subject_name": services.subject_name(rating), "current": current, "text": text,
        "note_max": NOTE_MAX, **failed}, status=failed.get("status", 200))
