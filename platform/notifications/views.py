"""The inbox (消息) and the notification preferences, portal pages at /messages/. Thin: parse, call
a service or selector, render. Another person's message is a 404."""
from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from kernel.errors import DomainError
from notifications import kinds, selectors, services
from notifications.models import Channel

PAGE_SIZE = 20


@login_required
@require_safe
def inbox(request):
    unread = request.GET.get("unread") == "1"
    page = Paginator(selectors.inbox_of(request.user, unread=True if unread else None), PAGE_SIZE).get_page(
        request.GET.get("page"))
    return render(request, "notifications/inbox.html", {"page": page, "items": page.object_list,
                                                         "only_unread": unread})


def _mine(request, pk: int):
    return get_object_or_404(selectors.inbox_of(request.user), pk=pk)


@login_required
@require_POST
def read(request, pk: int):
    services.mark_read(actor=request.user, message=_mine(request, pk))
    return redirect("notifications:inbox")


@login_required
@require_POST
def read_all(request):
    services.mark_all_read(actor=request.user)
    return redirect("notifications:inbox")


@login_required
@require_POST
def open_link(request, pk: int):
    """Mark the message read and follow its link (a page of this district only)."""
    message = services.mark_read(actor=request.user, message=_mine(request, pk))
    if message.link and url_has_allowed_host_and_scheme(message.link, allowed_hosts={request.get_host()},
                                                        require_https=request.is_secure()):
        return redirect(message.link)
    return redirect("notifications:inbox")


def _time(value: str):
    try:
        return dt.time.fromisoformat(value) if value else None
    except ValueError:
        raise DomainError(_("Give times as HH:MM."), fields={"quiet_start": [_("Give times as HH:MM.")]}) from None


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def preferences(request):
    error = None
    if request.method == "POST":
        channels = {g.key: [c for c in kinds.EXTRA_CHANNELS if request.POST.get(f"{g.key}:{c}")]
                    for g in kinds.groups()}
        try:
            start, end = _time(request.POST.get("quiet_start", "")), _time(request.POST.get("quiet_end", ""))
            services.save_preferences(actor=request.user, channels=channels, quiet_start=start, quiet_end=end)
        except DomainError as exc:
            error = exc.message
        else:
            messages.success(request, _("Saved."))
            return redirect("notifications:preferences")
    prefs = selectors.preferences_of(request.user)
    labels = {Channel.SMS: _("Text message"), Channel.WECHAT: _("WeChat")}
    rows = [{"key": g["key"], "label": g["label"],
             "options": [{"channel": c, "label": labels[c], "on": c in g["channels"]} for c in kinds.EXTRA_CHANNELS]}
            for g in prefs["groups"]]
    return render(request, "notifications/preferences.html", {"rows": rows, "prefs": prefs, "error": error},
                  status=400 if error else 200)
