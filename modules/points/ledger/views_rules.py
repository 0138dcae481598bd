"""The rulebook editor, under /points/staff/rules/ (district administrator): the rules in force or
all, new rules, a template to copy, new versions with their history."""
from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from kernel.errors import DomainError
from kernel.permissions import role_required
from modules.points import forms
from modules.points.ledger import rules as rulebook
from modules.points.ledger import selectors
from modules.points.ledger import services as ledger
from modules.points.models import (
    AutoSource,
    BalanceKind,
    CapPeriod,
    Direction,
    Origin,
    Rule,
)
from modules.points.staff_pages import (
    EDITORS,
    _fail,
    _render,
)

# --- rulebook -----------------------------------------------------------------------------------------

def _rule_fields(values: dict, errors: dict) -> dict:
    """The rule form's fields: label, input kind, value as text, choices and the service's errors."""
    material = bool(ledger.config().get("material_points")) or values.get("kind") == BalanceKind.MATERIAL
    kinds = BalanceKind.choices if material else [c for c in BalanceKind.choices if c[0] == BalanceKind.CIVIC]
    spec = [
        ("name_zh", _("Name (Chinese)"), "text", {"max": 80, "required": True}),
        ("name_en", _("Name (English)"), "text", {"max": 120}),
        ("description", _("Description"), "textarea", {}),
        ("direction", _("Direction"), "select", {"choices": Direction.choices}),
        ("category", _("Category code"), "text", {"max": 40, "required": True}),
        ("min_points", _("Minimum points"), "number", {"required": True}),
        ("max_points", _("Maximum points"), "number", {"required": True}),
        ("default_points", _("Default points"), "number", {}),
        ("kind", _("Balance"), "select", {"choices": kinds}),
        ("cap_count", _("Cap: postings per person"), "number", {}),
        ("cap_points", _("Cap: points per person"), "number", {}),
        ("cap_period", _("Cap period"), "select", {"choices": [("", "—"), *CapPeriod.choices]}),
        ("effective_from", _("In force from"), "date", {}),
        ("effective_to", _("In force until (last day)"), "date", {}),
        ("origin", _("Source"), "select", {"choices": Origin.choices}),
        ("auto_source", _("Applied automatically"), "select", {"choices": AutoSource.choices}),
        ("origin_note", _("Source note"), "text", {"max": 300}),
        ("auto_categories", _("Case categories (automatic rules; empty: all)"), "text",
         {"hint": _("comma-separated codes")}),
    ]
    out = {}
    for name, label, kind, extra in spec:
        value = values.get(name)
        if isinstance(value, list | tuple):
            value = ", ".join(str(v) for v in value)
        out[name] = {"name": name, "label": label, "kind": kind, "value": "" if value is None else str(value),
                     "errors": errors.get(name, []), **extra}
    return out


@role_required(*EDITORS)
@require_GET
def rules(request):
    """The rulebook: rules in force today (or all), with their version and where they come from."""
    include_all = request.GET.get("all") == "1"
    rows = selectors.rulebook(include_all=include_all)
    return _render(request, "rules.html", {
        "rows": rows, "include_all": include_all,
        "adds": sum(1 for v in rows if v.direction == Direction.ADD),
        "deducts": sum(1 for v in rows if v.direction == Direction.DEDUCT),
    }, tab="rules")


@role_required(*EDITORS)
@require_http_methods(["POST"])
def rule_template(request):
    """Copy the Kangbashi rulebook into this district (rules already here are kept as they are)."""
    added = rulebook.copy_template(actor=request.user, template="kangbashi")
    if added:
        messages.success(request, _("%(n)d rules copied from the Kangbashi rulebook; edit them as you need.")
                         % {"n": added})
    else:
        messages.info(request, _("Every rule of the Kangbashi rulebook is already here."))
    return redirect(reverse("points:rules"))


@role_required(*EDITORS)
@require_http_methods(["GET", "POST"])
def rule_new(request):
    values, errors, status = forms.rule_form_values(None), {}, 200
    if request.method == "POST":
        values = {**forms.rule_fields(request.POST), "code": request.POST.get("code", ""),
                  "note": request.POST.get("note", "")}
        try:
            fields = forms.rule_fields(request.POST)
            version = rulebook.create_rule(actor=request.user, code=request.POST.get("code", ""),
                                           note=request.POST.get("note", "").strip(), **fields)
        except DomainError as exc:
            if exc.status == 403:
                raise PermissionDenied(exc.message)
            errors, status = _fail(request, exc), exc.status
        else:
            messages.success(request, _("Rule %(code)s created (version 1).") % {"code": version.rule.code})
            return redirect(reverse("points:staff-rule", kwargs={"code": version.rule.code}))
    return _render(request, "rule_form.html", {"values": values, "errors": errors, "new": True,
                                               "fields": _rule_fields(values, errors)}, tab="rules", status=status)


@role_required(*EDITORS)
@require_http_methods(["GET", "POST"])
def rule_detail(request, code: str):
    """A rule: its current version as a form (saving makes a new version; entries keep theirs) and
    every earlier version."""
    rule = get_object_or_404(Rule, code=code)
    current = ledger.current_version(rule)
    values, errors, status = forms.rule_form_values(current), {}, 200
    if request.method == "POST":
        fields = forms.rule_fields(request.POST)
        values = {**fields, "note": request.POST.get("note", "")}
        try:
            version = rulebook.revise_rule(actor=request.user, rule=rule, note=request.POST.get("note", "").strip(),
                                           **fields)
        except DomainError as exc:
            if exc.status == 403:
                raise PermissionDenied(exc.message)
            errors, status = _fail(request, exc), exc.status
        else:
            if version.pk == current.pk:
                messages.info(request, _("Nothing changed; the rule stays at version %(v)d.") % {"v": version.version})
            else:
                messages.success(request, _("Saved %(code)s as version %(v)d; entries already posted keep the "
                                            "version they were posted under.") % {"code": code, "v": version.version})
            return redirect(reverse("points:staff-rule", kwargs={"code": code}))
    history = list(selectors.rule_history(code).select_related("created_by"))
    for v in history:
        v.note_shown = selectors.version_note(v.note)
    return _render(request, "rule_form.html", {
        "values": values, "errors": errors, "new": False, "rule": rule, "current": current, "history": history,
        "fields": _rule_fields(values, errors)}, tab="rules", status=status)
