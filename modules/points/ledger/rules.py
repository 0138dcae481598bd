"""Writes of the rulebook: a rule is created with its first version and revised into new versions
(entries keep the version they were posted under); a district copies a template of rules."""
from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils.translation import gettext as _

from kernel import audit
from kernel.errors import Conflict, DomainError, NotAllowed
from kernel.permissions import has_role
from kernel.text import text_problem
from modules.points.ledger.models import (
    AutoSource,
    BalanceKind,
    CapPeriod,
    Direction,
    Origin,
    Rule,
    RuleVersion,
)
from modules.points.ledger.services import RULE_EDITORS, _user, current_version

TEMPLATE_NOTE = "template "  # the note of a version copied from a rulebook template: "template kangbashi"
RULE_FIELDS = ("name_zh", "name_en", "description", "direction", "kind", "category", "min_points", "max_points",
               "default_points", "evidence_required", "committee_required", "cap_period", "cap_count", "cap_points",
               "effective_from", "effective_to", "origin", "origin_note", "auto_source", "auto_categories")


def _clean_rule(fields: dict) -> dict:
    out = {k: fields[k] for k in RULE_FIELDS if k in fields}
    errors: dict[str, list[str]] = {}

    def bad(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    out["name_zh"], problem = text_problem(out.get("name_zh"), max_length=80, name=True)  # kernel.text
    if problem:
        bad("name_zh", _("Required.") if not out["name_zh"] else problem)
    out["name_en"], problem = text_problem(out.get("name_en"), max_length=120, required=False, name=True)
    if problem:
        bad("name_en", problem)
    out["description"], problem = text_problem(out.get("description"), max_length=10_000, required=False,
                                               multiline=True)
    if problem:
        bad("description", problem)
    out["origin_note"] = (out.get("origin_note") or "").strip()[:300]
    if out.get("direction") not in Direction.values:
        bad("direction", _("add or deduct."))
    out.setdefault("kind", BalanceKind.CIVIC)
    if out["kind"] not in BalanceKind.values:
        bad("kind", _("civic or material."))
    out.setdefault("origin", Origin.DISTRICT)
    if out["origin"] not in Origin.values:
        bad("origin", _("Unknown origin."))
    category = (out.get("category") or "").strip()
    if not category or len(category) > 40 or not category.replace("_", "").replace("-", "").isalnum():
        bad("category", _("A short code of letters, digits and _."))
    out["category"] = category
    for name in ("min_points", "max_points"):
        value = out.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            bad(name, _("A whole number of points, at least 1 (the direction gives the sign)."))
    if not errors.get("min_points") and not errors.get("max_points"):
        if out["min_points"] > out["max_points"]:
            bad("max_points", _("Must be at least the minimum."))
        if out.get("default_points") is None:
            out["default_points"] = out["min_points"]
        if not isinstance(out["default_points"], int) or not (
                out["min_points"] <= out["default_points"] <= out["max_points"]):
            bad("default_points", _("Must lie between the minimum and the maximum."))
    out["cap_period"] = out.get("cap_period") or ""
    for name in ("cap_count", "cap_points"):
        value = out.get(name)
        if value in (None, "", 0):
            out[name] = None
        elif not isinstance(value, int) or isinstance(value, bool) or value < 1:
            bad(name, _("A whole number, at least 1, or empty for no cap."))
    if out["cap_period"] and out["cap_period"] not in CapPeriod.values:
        bad("cap_period", _("day, month or year."))
    if (out.get("cap_count") or out.get("cap_points")) and not out["cap_period"]:
        bad("cap_period", _("Say per which period the cap applies."))
    if not (out.get("cap_count") or out.get("cap_points")):
        out["cap_period"] = ""
    start, end = out.get("effective_from"), out.get("effective_to")
    for name, value in (("effective_from", start), ("effective_to", end)):
        if isinstance(value, str) and value:
            try:
                out[name] = dt.date.fromisoformat(value)
            except ValueError:
                bad(name, _("A date, YYYY-MM-DD."))
        elif not value:
            out[name] = None
    if out.get("effective_from") and out.get("effective_to") and out["effective_to"] < out["effective_from"]:
        bad("effective_to", _("Must not be before the start."))
    out["auto_source"] = out.get("auto_source") or ""
    if out["auto_source"] not in AutoSource.values:
        bad("auto_source", _("Unknown automatic source."))
    categories = out.get("auto_categories") or []
    if not isinstance(categories, list | tuple) or not all(isinstance(c, str) and c for c in categories):
        bad("auto_categories", _("A list of case category codes."))
    out["auto_categories"] = sorted({c.strip() for c in categories if isinstance(c, str) and c.strip()})
    if out["auto_source"] == AutoSource.OFFENDER and out.get("direction") != Direction.DEDUCT:
        bad("direction", _("A rule for reported households deducts points."))
    if out["auto_source"] in (AutoSource.REPORTER, AutoSource.PRAISED) and out.get("direction") != Direction.ADD:
        bad("direction", _("A rule for reporters and praised households adds points."))
    out["evidence_required"] = bool(out.get("evidence_required"))
    out["committee_required"] = bool(out.get("committee_required"))
    if errors:
        first = next(iter(errors))
        raise DomainError(f"{first}: {errors[first][0]}", fields=errors)
    return out


def _snapshot(version: RuleVersion) -> dict:
    data = {k: getattr(version, k) for k in RULE_FIELDS}
    for k in ("effective_from", "effective_to"):
        data[k] = data[k].isoformat() if data[k] else None
    return {"version": version.version, **data}


def create_rule(*, actor, code: str, note: str = "", _check_role: bool = True, **fields) -> RuleVersion:
    """A new rule with its first version."""
    if _check_role and actor is not None and not has_role(actor, *RULE_EDITORS):
        raise NotAllowed(_("Only the district administrator edits the rulebook."))
    code = (code or "").strip().lower()
    if not code or len(code) > 40 or not code.replace("_", "").replace("-", "").isalnum() or not code.isascii():
        raise DomainError(_("code: letters, digits and _ (at most 40)."), fields={"code": [_("Invalid code.")]})
    cleaned = _clean_rule(fields)
    with transaction.atomic():
        if Rule.objects.filter(code=code).exists():
            raise Conflict(_("There is already a rule %(code)s.") % {"code": code}, fields={"code": [_("Taken.")]})
        rule = Rule.objects.create(code=code, created_by=_user(actor))
        version = RuleVersion.objects.create(rule=rule, version=1, is_current=True, created_by=_user(actor),
                                             note=note[:200], **cleaned)
        audit.record(actor=actor, action="points.rule.create", target=rule, after=_snapshot(version))
    return version


def revise_rule(*, actor, rule, note: str = "", **changes) -> RuleVersion:
    """A new version of a rule; entries already posted keep the version they were posted under."""
    if actor is not None and not has_role(actor, *RULE_EDITORS):
        raise NotAllowed(_("Only the district administrator edits the rulebook."))
    unknown = set(changes) - set(RULE_FIELDS)
    if unknown:
        raise DomainError(_("Not a field of a rule: %(names)s.") % {"names": ", ".join(sorted(unknown))},
                          fields={n: [_("Unknown field.")] for n in unknown})
    with transaction.atomic():
        rule_id = current_version(rule).rule_id
        Rule.objects.select_for_update().get(pk=rule_id)  # one reviser at a time
        current = RuleVersion.objects.get(rule_id=rule_id, is_current=True)
        fields = {**{k: getattr(current, k) for k in RULE_FIELDS}, **changes}
        cleaned = _clean_rule(fields)
        if all(cleaned[k] == getattr(current, k) for k in RULE_FIELDS):
            return current
        RuleVersion.objects.filter(pk=current.pk).update(is_current=False)
        version = RuleVersion.objects.create(rule_id=rule_id, version=current.version + 1, is_current=True,
                                             created_by=_user(actor), note=note[:200], **cleaned)
        audit.record(actor=actor, action="points.rule.revise", target=current.rule, before=_snapshot(current),
                     after=_snapshot(version))
    return version


def copy_template(*, actor, template: str = "kangbashi") -> int:
    """The district administrator copies a rulebook template (Kangbashi's 51 add and 33 deduct rules)
    into the district: rules whose code is already there are left as they are. Returns how many were
    added; edit them afterwards like any rule."""
    if not has_role(actor, *RULE_EDITORS):
        raise NotAllowed(_("Only the district administrator edits the rulebook."))
    return seed(template=template, actor=actor)


def seed(*, template: str, actor=None) -> int:
    """Copy a rulebook template into the district (rules whose code is not there yet)."""
    from modules.points.ledger.templates_kangbashi import rules_for, template_key

    with transaction.atomic():
        existing = set(Rule.objects.values_list("code", flat=True))
        added = []
        for data in rules_for(template):
            data = dict(data)
            code = data.pop("code")
            if code in existing:
                continue
            create_rule(actor=actor, code=code, note=TEMPLATE_NOTE + template_key(template), _check_role=False, **data)
            added.append(code)
        if added:
            audit.record(actor=actor, action="points.rules.seed", target_type="points.rule", target_id="*",
                         after={"template": template, "count": len(added)})
    return len(added)
