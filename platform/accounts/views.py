"""The invitation page (``/invite/<token>/`` on the district's domain): set a password, be signed in,
land on /manage/. Phone first, in the district's colours."""
from __future__ import annotations

from django.contrib.auth import login
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from kernel.errors import DomainError

from . import invitations


@require_http_methods(["GET", "POST"])
def invite(request, token: str):
    try:
        invitation = invitations.find(token)
    except invitations.InvitationError as exc:
        return render(request, "accounts/invite.html", {"problem": exc.message, "problem_code": exc.code},
                      status=exc.status)
    ctx = {"invited": invitation.user, "errors": {}}
    if request.method == "POST":
        try:
            user = invitations.accept(token=token, password=request.POST.get("password", ""),
                                      password2=request.POST.get("password2", ""))
        except invitations.InvitationError as exc:
            return render(request, "accounts/invite.html", {"problem": exc.message, "problem_code": exc.code},
                          status=exc.status)
        except DomainError as exc:
            ctx["errors"] = exc.fields or {"password": [exc.message]}
            return render(request, "accounts/invite.html", ctx, status=400)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("/manage/")
    return render(request, "accounts/invite.html", ctx)
