"""The district administrator's settings pages (``/manage/``): modules (on, and off after a confirm
page), each module's configuration (a form from its schema, raw JSON for experts), branding, users and
roles, and the audit log. The services decide; these views parse, call and render."""
from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.services import add_user, grant_role
from kernel.audit_names import action_label, target_label
from kernel.errors import DomainError
from kernel.models import AuditEntry, RoleAssignment
from kernel.permissions import role_required
from kernel.roles import Role, ScopeKind
from kernel.selectors import config_versions, module_config
from kernel.services import restore_module_config, revoke_role, update_module_config
from modules.catalog import catalog
from portal import config_form
from portal.audit_filters import AuditFilter, changes
from tenants.selectors import module_off_impact
from tenants.services import disable_module, enable_module, update_branding

admin_only = role_required(Role.DISTRICT_ADMIN)


def _english(request) -> bool:
    return (getattr(request, "LANGUAGE_CODE", "") or "").startswith("en")


# --- modules --------------------------------------------------------------------------------------------

@admin_only
@require_http_methods(["GET", "POST"])
def modules(request):
    """The modules of the district. Turning one on is one click; turning one off goes to a confirm page."""
    district = connection.tenant
    if request.method == "POST":
        key = request.POST.get("key", "")
        if request.POST.get("on") != "1":
            return redirect("portal:settings-module-off", key=key)
        try:
            district = enable_module(actor=request.user, district=district, key=key)
            request.tenant = connection.tenant = district
            messages.success(request, _("Saved."))
        except DomainError as exc:
            messages.error(request, exc.message)
        return redirect("portal:settings-modules")
    rows = [{"spec": s, "enabled": district.has_module(s.key),
             "depends": [catalog[d] for d in s.depends]} for s in catalog]
    setup = None
    if district.live_at is None:  # not open to residents yet: what is left before "go live"
        from tenants.golive import checklist

        setup = checklist(district)
    return render(request, "portal/settings_modules.html", {"rows": rows, "tab": "modules", "setup": setup,
                                                            "setup_left": sum(1 for i in setup or () if not i.done)})


@admin_only
@require_http_methods(["GET", "POST"])
def module_off(request, key: str):
    """Confirm turning a module off: what stops, that every row is kept, and which enabled modules need
    it — those are turned off with it (the admin sees them named on the button), or nothing happens."""
    district = connection.tenant
    spec = catalog.get(key)
    if spec is None:
        raise Http404
    if spec.always_on or not district.has_module(key):
        messages.error(request, _("%(name)s cannot be turned off here.") % {"name": spec.name(request.LANGUAGE_CODE)})
        return redirect("portal:settings-modules")
    impact = module_off_impact(district, key)
    if request.method == "POST":
        wanted = {s.key for s in impact["dependents"]}
        confirmed = set(request.POST.getlist("also"))
        if confirmed != wanted:  # the page changed since it was shown, or a box was left out
            messages.error(request, _("Confirm the modules that are turned off together with this one."))
            return redirect("portal:settings-module-off", key=key)
        try:
            district = disable_module(actor=request.user, district=district, key=key, with_dependents=bool(wanted))
            request.tenant = connection.tenant = district
            messages.success(request, _("%(name)s is off. Its data is kept; turn it on again at any time.")
                             % {"name": spec.name(request.LANGUAGE_CODE)})
        except DomainError as exc:
            messages.error(request, exc.message)
        return redirect("portal:settings-modules")
    total_rows = sum(t["rows"] for t in impact["tables"])
    return render(request, "portal/settings_module_off.html", {
        "tab": "modules", "total_rows": total_rows, "module_name": spec.name(request.LANGUAGE_CODE), **impact})


# --- configuration --------------------------------------------------------------------------------------

@admin_only
def config_index(request):
    first = next((s for s in catalog.effective(connection.tenant) if s.config_schema.get("properties")), None)
    if first is None:
        raise Http404
    return redirect("portal:settings-config", key=first.key)


@admin_only
@require_http_methods(["GET", "POST"])
def config(request, key: str):
    """A module's configuration as a form (labels from its schema) or as raw JSON (the expert view).
    Either way the kernel's service checks the whole document and saves a new version, or nothing."""
    spec = catalog.get(key)
    if spec is None:
        raise Http404
    english = _english(request)
    errors: dict[str, list[str]] = {}
    text, data, mode, json_error = None, None, "form", None
    if request.method == "POST":
        if "restore" in request.POST:
            try:
                row = restore_module_config(actor=request.user, module_key=key, version=int(request.POST["restore"]))
                messages.success(request, _("Restored version %(v)s as version %(n)s.")
                                 % {"v": row.restored_from, "n": row.version})
            except (DomainError, ValueError) as exc:
                messages.error(request, getattr(exc, "message", str(exc)))
            return redirect("portal:settings-config", key=key)
        mode = "json" if request.POST.get("mode") == "json" else "form"
        note = request.POST.get("note", "")
        try:
            if mode == "json":
                text = request.POST.get("data", "")
                try:
                    data = json.loads(text)
                except json.JSONDecodeError as exc:
                    json_error = {"message": config_form.json_problem(exc),
                                  "excerpt": config_form.json_excerpt(text, exc)}
                    raise
            else:
                data = config_form.parse(spec.config_schema, request.POST)
            update_module_config(actor=request.user, module_key=key, data=data, note=note)
            messages.success(request, _("Saved as a new version."))
            return redirect("portal:settings-config", key=key)
        except json.JSONDecodeError:
            data = None
        except DomainError as exc:
            errors = exc.fields or {"(config)": [exc.message]}
    current = module_config(key)
    fields = config_form.build(spec.config_schema, data if data is not None and mode == "form" else current,
                               english=english)
    names = config_form.labels(fields)
    left = config_form.attach_errors(fields, dict(errors)) if mode == "form" else dict(errors)
    summary = [(names.get(path, path), msgs) for path, msgs in errors.items()]
    return render(request, "portal/settings_config.html", {
        "spec": spec, "tab": "config", "fields": fields, "summary": summary, "left": left,
        "mode": mode, "json_error": json_error,
        "text": text if text is not None else json.dumps(current, ensure_ascii=False, indent=2),
        "versions": config_versions(key)[:50],
        "modules": [s for s in catalog.effective(connection.tenant) if s.config_schema.get("properties")],
    }, status=400 if (errors or json_error) else 200)


# --- branding -------------------------------------------------------------------------------------------

@admin_only
@require_http_methods(["GET", "POST"])
def branding(request):
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


# --- users and roles ------------------------------------------------------------------------------------

def _scope_label(kind: str, code: str, names: dict) -> tuple[str, str]:
    """(the scope in words, the place's code shown beside it as an identifier, or "")."""
    if kind == ScopeKind.DISTRICT:
        return str(ScopeKind.DISTRICT.label), ""
    name = names.get((kind, code))
    return (f"{ScopeKind(kind).label} · {name}", code) if name else (str(ScopeKind(kind).label), code)


@admin_only
@require_http_methods(["GET", "POST"])
def users(request):
    """Staff users with every role they hold; add a user (no role unless one is chosen) or give a role,
    the scope picked from the district's places."""
    from modules.registry.selectors import place_names, place_tree

    User = get_user_model()
    form, errors = {}, {}
    if request.method == "POST":
        action = request.POST.get("action", "")
        form = {k: request.POST.get(k, "").strip() for k in ("username", "display_name", "phone", "role", "scope")}
        try:
            if action == "revoke":
                row = get_object_or_404(RoleAssignment, pk=request.POST.get("assignment"))
                revoke_role(actor=request.user, assignment=row)
            elif action == "grant":
                user = get_object_or_404(User, pk=request.POST.get("user"))
                grant_role(actor=request.user, user=user, role=form["role"], scope=form["scope"])
            else:
                add_user(actor=request.user, username=form["username"], password=request.POST.get("password") or None,
                         display_name=form["display_name"], phone=form["phone"] or None, role=form["role"],
                         scope=form["scope"])
            messages.success(request, _("Saved."))
            return redirect("portal:settings-users")
        except DomainError as exc:
            messages.error(request, exc.message)
            errors = exc.fields or {}
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            errors = getattr(exc, "message_dict", {})
        form["action"] = action
    staff_roles = [r for r in Role.values if r != Role.RESIDENT]
    rows = list(User.objects.filter(Q(role_assignments__role__in=staff_roles) | Q(role_assignments__isnull=True))
                .distinct().prefetch_related("role_assignments").order_by("username"))
    names = place_names((a.scope_kind, a.scope_code) for u in rows for a in u.role_assignments.all())
    for u in rows:
        u.roles_shown = []
        for a in u.role_assignments.all():
            scope, code = _scope_label(a.scope_kind, a.scope_code, names)
            u.roles_shown.append({"pk": a.pk, "role": a.get_role_display(), "scope": scope, "code": code})
    return render(request, "portal/settings_users.html", {
        "tab": "users", "users": rows, "roles": Role.choices, "places": place_tree(), "form": form, "errors": errors,
        "resident_count": RoleAssignment.objects.filter(role=Role.RESIDENT).values("user").distinct().count(),
    }, status=400 if errors else 200)


# --- the audit log --------------------------------------------------------------------------------------

@admin_only
def audit(request):
    english = _english(request)
    found = AuditFilter(request.GET or None, queryset=AuditEntry.objects.all(), english=english)
    entries = found.qs if found.is_bound and found.is_valid() else AuditEntry.objects.all()
    page = Paginator(entries.select_related("actor"), 50).get_page(request.GET.get("page"))
    for e in page.object_list:
        e.action_name = action_label(e.action, english=english)
        e.target_name = target_label(e.target_type) if e.target_type else ""
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "portal/settings_audit.html", {"tab": "audit", "filter": found, "page": page,
                                                          "query": query.urlencode()})


@admin_only
def audit_entry(request, pk: int):
    entry = get_object_or_404(AuditEntry, pk=pk)
    english = _english(request)
    return render(request, "portal/settings_audit_entry.html", {
        "tab": "audit", "entry": entry, "action_name": action_label(entry.action, english=english),
        "target_name": target_label(entry.target_type) if entry.target_type else "",
        "changes": changes(entry.before, entry.after)})
