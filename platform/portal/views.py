"""Portal pages: the resident home and phone sign-in (the district admin's settings: settings_views)."""
from __future__ import annotations

from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import translation
from django.views.decorators.http import require_http_methods, require_POST

from accounts.services import AuthError, request_code, verify_code
from kernel.models import RoleAssignment
from modules.catalog import catalog


def media(request, path: str):
    """The public uploads of this district (its logo) — as nginx serves them in production. Private
    files (case photos, ledger files, print runs) are only served through the views that check who
    asks; a path under another district's prefix is not found."""
    from django.conf import settings
    from django.views.static import serve

    if not path.startswith(f"{connection.schema_name}/branding/") or ".." in path.split("/"):
        raise Http404
    return serve(request, path, document_root=settings.MEDIA_ROOT)


def _promise(specs, english: bool) -> str:
    """The home's welcome line, made of the enabled modules' promises (never one of a module that is off)."""
    phrases = [s.promise_en if english else s.promise_zh for s in specs if (s.promise_en if english else s.promise_zh)]
    if not phrases:
        return ""
    if english:
        text = phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]
        return text[:1].upper() + text[1:] + "."
    return "、".join(phrases) + "。"


def _my_figures(request, specs) -> list:
    """The signed-in person's own figures from the enabled modules (my points, my open cases)."""
    from django.utils.module_loading import import_string

    if not request.user.is_authenticated:
        return []
    return [figure for spec in specs if spec.me_figures for figure in import_string(spec.me_figures)(request.user)]


def home(request):
    """The district's home: what it offers (following its enabled modules), the person's own figures
    when signed in, and the services as tiles."""
    specs = catalog.effective(connection.tenant)
    english = translation.get_language().startswith("en")
    return render(request, "portal/home.html", {"modules": specs, "promise": _promise(specs, english),
                                                "figures": _my_figures(request, specs)})


@require_http_methods(["GET", "POST"])
def sign_in(request):
    """Residents: phone + one-time code. Staff: username + password (second tab)."""
    next_url = request.GET.get("next") or request.POST.get("next") or "/"
    if not next_url.startswith("/") or next_url.startswith("//"):
        next_url = "/"
    ctx = {"next": next_url, "phone": request.POST.get("phone", ""), "step": "phone", "error": None,
           "staff_form": AuthenticationForm(request)}
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "send":
                sent = request_code(phone=ctx["phone"])
                ctx["step"] = "code"
                ctx["sent_to"] = sent.phone_masked
            elif action == "verify":
                ctx["step"] = "code"
                user = verify_code(phone=ctx["phone"], code=request.POST.get("code", ""))
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                return redirect(next_url)
            elif action == "password":
                form = AuthenticationForm(request, data=request.POST)
                if form.is_valid():
                    login(request, form.get_user())
                    return redirect(next_url)
                ctx["staff_form"] = form
                ctx["tab"] = "staff"
        except AuthError as exc:
            ctx["error"] = str(exc)
        except ValidationError as exc:
            ctx["error"] = " ".join(exc.messages)
            ctx["step"] = "phone"
    return render(request, "portal/login.html", ctx)


@require_POST
def sign_out(request):
    logout(request)
    return redirect("/")


@login_required
def me(request):
    """我的: the person's own figures, their services, their work (staff), and their account."""
    specs = catalog.effective(connection.tenant)
    return render(request, "portal/me.html", {"assignments": RoleAssignment.objects.filter(user=request.user),
                                              "figures": _my_figures(request, specs)})
