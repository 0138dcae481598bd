"""Phone pages of the ledger: rating from a scan (``ratings:rate``: five big faces, each one a submit
button — scan, tap 评价 on the code's page, tap a face: two taps to a submitted rating), the rating
just given with its state and follow-up (``ratings:rated``: where the rater sees the outcome of a bad
rating's callback) and my ratings (``ratings:mine``). Thin: they parse, call the service, render."""
from __future__ import annotations

import secrets

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from kernel import idempotency
from kernel.errors import DomainError
from modules.ratings.ledger import selectors, services
from modules.ratings.ledger.api import DEVICE_COOKIE, client_ip, follow_up_data
from modules.ratings.ledger.models import COMMENT_MAX, Rating, State, SubjectKind

DEVICE_COOKIE_AGE = 2 * 365 * 24 * 3600

# (level, face) from the best down; the labels are the model's (非常满意 … 非常不满意).
FACES = [(5, "😄"), (4, "😊"), (3, "😐"), (2, "😟"), (1, "😠")]  # faces every phone font has
STATE_WORDS = {
    State.COUNTED: gettext_lazy("Counted"),
    State.HELD: gettext_lazy("Being checked: it counts once a reviewer has looked at it"),
    State.REJECTED: gettext_lazy("Not counted after review"),
    State.REMOVED: gettext_lazy("Removed after an appeal"),
    State.SUPERSEDED: gettext_lazy("Replaced by your later rating"),
}


def _english() -> bool:
    return (get_language() or "").startswith("en")


def _levels():
    labels = dict(Rating._meta.get_field("level").choices)
    return [(value, labels[value], face) for value, face in FACES]


def _subject_card(kind, official, merchant) -> dict:
    if kind == SubjectKind.OFFICIAL:
        return {"kind": kind, "name": official.name, "line": f"{official.department.name} · {official.post}"}
    line = merchant.address or merchant.licensed_place
    return {"kind": kind, "name": merchant.name, "line": line, "stall": merchant.kind == "stall"}


def _with_device_cookie(request, response):
    if not request.COOKIES.get(DEVICE_COOKIE):
        response.set_cookie(DEVICE_COOKIE, secrets.token_urlsafe(24), max_age=DEVICE_COOKIE_AGE, httponly=True,
                            samesite="Lax", secure=request.is_secure())
    return response


def _form_scores(post, kind) -> dict:
    """The dimensions the rater set (blank: the same as the overall level)."""
    out = {}
    for key, _name in selectors.dimension_names(kind, False):
        raw = (post.get(f"score_{key}") or "").strip()
        if raw:
            out[key] = int(raw) if raw.isdigit() else raw
    return out


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def rate(request, token: str):
    """GET/POST /ratings/rate/<token>/: rate the official or merchant of a scanned code."""
    try:
        kind, official, merchant, code = selectors.subject_of_code(token)
    except selectors.NoSubject:
        raise Http404 from None
    subject = official or merchant
    ctx = {"token": token, "code": code, "subject": _subject_card(kind, official, merchant), "levels": _levels(),
           "dimensions": selectors.dimension_names(kind, _english()), "comment_max": COMMENT_MAX, "errors": {},
           "form": {"comment": "", "idempotency_key": secrets.token_urlsafe(18)}, "refusal": None}
    if services.is_own(request.user, official=official, merchant=merchant):
        ctx["refusal"] = _("You cannot rate yourself.")
    elif not subject.active:
        ctx["refusal"] = (_("This official is no longer in this post.") if official is not None
                          else _("This business is no longer licensed here."))
    else:
        try:
            services.rater_profile(request.user)
        except DomainError as exc:
            ctx["refusal"] = exc.message
    if ctx["refusal"]:
        return _with_device_cookie(request, render(request, "ratings/ledger/rate.html", ctx, status=403))
    if request.method == "POST":
        post = request.POST
        ctx["form"].update(comment=post.get("comment", ""), idempotency_key=post.get("idempotency_key", ""))
        raw = (post.get("level") or "").strip()
        try:
            rating = services.submit_rating(
                actor=request.user, official=official, merchant=merchant,
                level=int(raw) if raw.isdigit() else raw, scores=_form_scores(post, kind),
                comment=post.get("comment", ""), device_id=request.COOKIES.get(DEVICE_COOKIE, ""),
                client_ip=client_ip(request), idempotency_key=post.get("idempotency_key"))
        except DomainError as exc:
            idempotency.refresh_form_key(ctx["form"], exc)
            ctx["errors"] = {"form": [exc.message], **exc.fields}
            return _with_device_cookie(request, render(request, "ratings/ledger/rate.html", ctx, status=exc.status))
        return redirect("ratings:rated", pk=rating.pk)
    ctx["live"] = selectors.live_rating(request.user, official=official, merchant=merchant)
    return _with_device_cookie(request, render(request, "ratings/ledger/rate.html", ctx))


def _row(rating: Rating) -> dict:
    subject = rating.subject
    follow = follow_up_data(rating)
    return {"rating": rating, "subject_name": subject.name if subject is not None else _("the handling unit"),
            "state_words": STATE_WORDS.get(rating.state, rating.state), "follow_up": follow,
            "face": dict(FACES).get(rating.level, "")}


@login_required
@require_safe
def rated(request, pk: int):
    """GET /ratings/mine/<pk>/: one of my ratings, its state and its follow-up."""
    rating = selectors.rating_of(request.user, pk)
    if rating is None:
        raise Http404
    labels = dict(Rating._meta.get_field("level").choices)
    given = dict(rating.scores or {})
    scores = [(name, labels.get(given.pop(key), "")) for key, name in selectors.dimension_names(
        rating.subject_kind, _english()) if key in given]
    scores += [(key, labels.get(value, value)) for key, value in given.items()]  # a dimension since removed
    return render(request, "ratings/ledger/rated.html", {**_row(rating), "scores": scores})


@login_required
@require_safe
def mine(request):
    """GET /ratings/mine/: the ratings I gave, newest first."""
    page = Paginator(selectors.ratings_of(request.user), 20).get_page(request.GET.get("page"))
    return render(request, "ratings/ledger/mine.html", {"page": page, "rows": [_row(r) for r in page]})
