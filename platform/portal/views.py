"""Portal pages: the resident home, phone sign-in, and the district admin's settings pages."""
from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.services import AuthError, request_code, verify_code
from kernel.errors import DomainError
from kernel.models import AuditEntry, RoleAssignment
from kernel.permissions import role_required
from kernel.roles import Role, ScopeKind
from kernel.selectors import config_versions, module_config
from kernel.services import assign_role, restore_module_config, revoke_role, update_module_config
from modules.catalog import catalog
from tenants.services import disable_module, enable_module, update_branding


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


# --- the district admin's settings --------------------------------------------------------------------

admin_only = role_required(Role.DISTRICT_ADMIN)


@admin_only
def settings_modules(request):
    district = connection.tenant
    if request.method == "POST":
        key, on = request.POST.get("key", ""), request.POST.get("on") == "1"
        try:
            district = (enable_module if on else disable_module)(actor=request.user, district=district, key=key)
            request.tenant = connection.tenant = district
            messages.success(request, _("Saved."))
        except DomainError as exc:
            messages.error(request, exc.message)
        return redirect("portal:settings-modules")
    rows = [{"spec": s, "enabled": district.has_module(s.key),
             "depends": [catalog[d] for d in s.depends]} for s in catalog]
    return render(request, "portal/settings_modules.html", {"rows": rows, "tab": "modules"})


@admin_only
def settings_config(request, key: str):
    spec = catalog.get(key)
    if spec is None:
        raise Http404
    errors: dict = {}
    text = None
    if request.method == "POST":
        if "restore" in request.POST:
            try:
                row = restore_module_config(actor=request.user, module_key=key, version=int(request.POST["restore"]))
                messages.success(request, _("Restored version %(v)s as version %(n)s.")
                                 % {"v": row.restored_from, "n": row.version})
            except (DomainError, ValueError) as exc:
                messages.error(request, str(exc))
            return redirect("portal:settings-config", key=key)
        text = request.POST.get("data", "")
        try:
            data = json.loads(text)
            update_module_config(actor=request.user, module_key=key, data=data, note=request.POST.get("note", ""))
            messages.success(request, _("Saved as a new version."))
            return redirect("portal:settings-config", key=key)
        except json.JSONDecodeError as exc:
            errors = {"(json)": [_("Not valid JSON: %(e)s") % {"e": exc}]}
        except DomainError as exc:
            errors = exc.fields or {"(config)": [exc.message]}
    current = module_config(key)
    return render(request, "portal/settings_config.html", {
        "spec": spec, "tab": "config", "errors": errors,
        "text": text if text is not None else json.dumps(current, ensure_ascii=False, indent=2),
        "schema": json.dumps(spec.config_schema, ensure_ascii=False, indent=2),
        "versions": config_versions(key)[:50], "modules": list(catalog),
    })


@admin_only
def settings_branding(request):
    district = connection.tenant
    errors = {}
    if request.method == "POST":
        fields = {f: request.POST.get(f, "").strip() for f in ("title_zh", "title_en", "primary_color", "accent_color")}
        try:
            district = update_branding(actor=request.user, district=district, logo=request.FILES.get("logo"),
                                       clear_logo=request.POST.get("clear_logo") == "1", **fields)
            request.tenant = connection.tenant = district
            messages.success(request, _("Saved."))
            return redirect("portal:settings-branding")
        except DomainError as exc:
            errors = exc.fields or {"": [exc.message]}
    return render(request, "portal/settings_branding.html", {"tab": "branding", "errors": errors})


@admin_only
def settings_users(request):
    from django.contrib.auth import get_user_model

    from accounts.services import create_user

    User = get_user_model()
    if request.method == "POST":
        try:
            if request.POST.get("action") == "revoke":
                row = get_object_or_404(RoleAssignment, pk=request.POST.get("assignment"))
                revoke_role(actor=request.user, assignment=row)
            else:
                username = request.POST.get("username", "").strip()
                user = User.objects.filter(username=username).first()
                if user is None:
                    user = create_user(actor=request.user, username=username,
                                       password=request.POST.get("password") or None,
                                       display_name=request.POST.get("display_name", ""),
                                       phone=request.POST.get("phone") or None)
                assign_role(actor=request.user, user=user, role=request.POST.get("role", ""),
                            scope_kind=request.POST.get("scope_kind", ScopeKind.DISTRICT),
                            scope_code=request.POST.get("scope_code", ""))
            messages.success(request, _("Saved."))
        except DomainError as exc:
            messages.error(request, exc.message)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        return redirect("portal:settings-users")
    users = User.objects.prefetch_related("role_assignments").exclude(role_assignments__role=Role.RESIDENT,
                                                                       is_staff=False).order_by("username")
    return render(request, "portal/settings_users.html", {
        "tab": "users", "users": users, "roles": Role.choices, "scope_kinds": ScopeKind.choices,
        "resident_count": RoleAssignment.objects.filter(role=Role.RESIDENT).count(),
    })


@admin_only
def settings_audit(request):
    return render(request, "portal/settings_audit.html", {"tab": "audit", "entries": AuditEntry.objects.all()[:100]})


