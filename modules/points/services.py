"""Writes of the points module: the rulebook, posting to the ledger, the committee (proposals with
maker–checker approval and a quorum), appeals, corrections, automatic postings from verified
reports, and the compound civility score.

Every posting goes through ``_post``: it locks the resident's balance row (so rule caps hold under
concurrency), re-checks the idempotency key, checks the rule (sign, range, dates, caps, evidence),
inserts the entry and adds it to the balance, all in the caller's transaction. Batches post the same
way, set-based, in ``modules.points.batches``."""
from __future__ import annotations

import datetime as dt
import logging
import uuid

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from kernel import audit, events, idempotency
from kernel.errors import Conflict, DomainError, NotAllowed
from kernel.permissions import acting_user as _user
from kernel.permissions import has_role, in_scope
from kernel.roles import Role
from kernel.selectors import module_config
from kernel.text import text_problem
from modules.points.models import (
    EVIDENCE_MAX,
    KEY_MAX,
    REASON_MAX,
    Appeal,
    AutoSource,
    Balance,
    BalanceKind,
    CapPeriod,
    Direction,
    Entry,
    Origin,
    Proposal,
    ReportFact,
    Rule,
    RuleVersion,
    SourceKind,
    Vote,
)
from modules.registry.models import Household, Membership, Resident
from modules.registry.selectors import RESIDENT_SCOPE

log = logging.getLogger(__name__)

# Who may post directly (rules that need no committee) and propose, within their scope.
POSTER_ROLES = (Role.DISTRICT_ADMIN, Role.COMMUNITY_STAFF, Role.GRID_WORKER, Role.GRID_WORKER_PART_TIME,
                Role.COMMITTEE_MEMBER)
RULE_EDITORS = (Role.DISTRICT_ADMIN,)


# --- helpers ----------------------------------------------------------------------------------------

def config() -> dict:
    """The module's configuration in force, with defaults for keys added since it was saved."""
    from modules.points.spec import SPEC

    return {**SPEC.default_config(), **module_config("points")}


def local_today(now=None) -> dt.date:
    return timezone.localdate(now or timezone.now())


def _label(version: RuleVersion) -> str:
    return f"{version.name_zh} ({version.rule.code})"


def _text(value, name: str, limit: int, *, required: bool = False, message: str = "") -> str:
    value, problem = text_problem(value, max_length=limit, required=False, multiline=True)  # kernel.text
    if required and not value:
        raise DomainError(message or _("%(field)s is required.") % {"field": name}, fields={name: [_("Required.")]})
    if problem:
        raise DomainError(problem, fields={name: [problem]})
    return value


def resident_of(user) -> Resident | None:
    """The registered resident a signed-in account belongs to."""
    if not _user(user):
        return None
    return Resident.objects.filter(user=user).only("id", "name", "user_id").first()


def covers_resident(user, resident: Resident, roles) -> bool:
    """The user holds one of ``roles`` in a scope that contains the resident's current household."""
    if not _user(user):
        return False
    return in_scope(user, Resident.objects.filter(pk=resident.pk), roles=roles, fields=RESIDENT_SCOPE).exists()


def _require_poster(user, resident: Resident, action: str) -> None:
    if not _user(user) or not has_role(user, *POSTER_ROLES):
        raise NotAllowed(_("Only community staff, grid workers, the committee and administrators may %(action)s.")
                         % {"action": action})
    if not covers_resident(user, resident, POSTER_ROLES):
        raise NotAllowed(_("This resident does not live in your area."), code="out_of_scope")
    if resident.user_id and resident.user_id == user.pk:
        raise NotAllowed(_("Nobody may award or deduct their own points."), code="own_points")


def _require_committee(user, *, resident: Resident | None = None) -> None:
    if not _user(user) or not has_role(user, Role.COMMITTEE_MEMBER):
        raise NotAllowed(_("Only members of the points committee decide this."), code="not_committee")
    if resident is not None and not covers_resident(user, resident, (Role.COMMITTEE_MEMBER,)):
        raise NotAllowed(_("This resident is outside your committee's area."), code="out_of_scope")


def current_version(rule) -> RuleVersion:
    """The version in force of a rule given as a Rule, a RuleVersion, a rule id or a code."""
    if isinstance(rule, RuleVersion):
        rule = rule.rule_id
    elif isinstance(rule, Rule):
        rule = rule.pk
    elif isinstance(rule, int) and not isinstance(rule, bool):
        pass  # a rule's primary key
    else:
        found = Rule.objects.filter(code=str(rule or "")).values_list("pk", flat=True).first()
        if found is None:
            raise DomainError(_("There is no rule %(code)s in this district's rulebook.") % {"code": rule},
                              code="unknown_rule", fields={"rule": [_("Unknown rule.")]})
        rule = found
    version = RuleVersion.objects.select_related("rule").filter(rule_id=rule, is_current=True).first()
    if version is None:
        raise DomainError(_("This rule has no version in force."), code="unknown_rule", fields={"rule": [_("Unknown rule.")]})
    return version


# --- rulebook ---------------------------------------------------------------------------------------

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
    from modules.points.templates_kangbashi import rules_for

    with transaction.atomic():
        existing = set(Rule.objects.values_list("code", flat=True))
        added = []
        for data in rules_for(template):
            data = dict(data)
            code = data.pop("code")
            if code in existing:
                continue
            create_rule(actor=actor, code=code, note=f"template {template or 'default'}", _check_role=False, **data)
            added.append(code)
        if added:
            audit.record(actor=actor, action="points.rules.seed", target_type="points.rule", target_id="*",
                         after={"template": template, "count": len(added)})
    return len(added)


# --- posting ----------------------------------------------------------------------------------------

def period_bounds(period: str, day: dt.date) -> tuple[dt.date, dt.date]:
    """[start, end) of the cap period that contains ``day``."""
    if period == CapPeriod.DAY:
        return day, day + dt.timedelta(days=1)
    if period == CapPeriod.MONTH:
        start = day.replace(day=1)
        return start, (start + dt.timedelta(days=32)).replace(day=1)
    start = day.replace(month=1, day=1)
    return start, start.replace(year=start.year + 1)


def _period_text(period: str) -> str:
    words = {"day": _("per day"), "month": _("per month"), "year": _("per year")}
    return words.get(period, period)


def lock_balances(pairs) -> None:
    """Create (if missing) and lock the balance rows of (resident_id, kind) pairs, in a fixed order so
    two postings never wait on each other in a cycle."""
    pairs = sorted(set(pairs))
    if not pairs:
        return
    table = Balance._meta.db_table
    ids = [p[0] for p in pairs]
    kinds = [p[1] for p in pairs]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (resident_id, kind, points, entries, updated_at) "  # noqa: S608 - table from _meta
            "SELECT r, k, 0, 0, now() FROM unnest(%s::bigint[], %s::varchar[]) AS t(r, k) ORDER BY r, k "
            "ON CONFLICT (resident_id, kind) DO NOTHING", [ids, kinds])
        cursor.execute(
            f"SELECT b.id FROM {table} b JOIN unnest(%s::bigint[], %s::varchar[]) AS t(r, k) "  # noqa: S608
            "ON b.resident_id = t.r AND b.kind = t.k ORDER BY b.resident_id, b.kind FOR UPDATE OF b", [ids, kinds])


def cap_usage(*, resident_id: int, version: RuleVersion, day: dt.date) -> tuple[int, int]:
    """Net postings and net points of this rule for the resident in the cap period around ``day``
    (a reversed posting no longer counts)."""
    start, end = period_bounds(version.cap_period, day)
    rows = Entry.objects.filter(resident_id=resident_id, rule_id=version.rule_id, occurred_on__gte=start,
                                occurred_on__lt=end).values_list("points", "reverses_id")
    count = points = 0
    for value, reverses in rows:
        count += -1 if reverses else 1
        points += value
    return count, points


def check_posting(*, version: RuleVersion, points: int, occurred_on: dt.date, evidence: str = "",
                  has_file: bool = False, resident_id: int | None = None, today: dt.date | None = None) -> None:
    """The rule's constraints on one posting: kind on, sign, range, dates, evidence, caps. Caps need the
    resident's balance row locked by the caller (``lock_balances``)."""
    label = _label(version)
    if not isinstance(points, int) or isinstance(points, bool) or points == 0:
        raise DomainError(_("Give the points as a whole number other than 0."), code="invalid_points",
                          fields={"points": [_("Not a whole number.")]})
    if version.kind == BalanceKind.MATERIAL and not config().get("material_points"):
        raise Conflict(_("Material points are off in this district."), code="material_off")
    if points * version.sign < 0:
        message = (_("%(rule)s is a deduct rule: give the points as a negative number.")
                   if version.direction == Direction.DEDUCT else
                   _("%(rule)s is an add rule: give the points as a positive number."))
        raise DomainError(message % {"rule": label}, code="wrong_sign", fields={"points": [_("Wrong sign.")]})
    if not version.min_points <= abs(points) <= version.max_points:
        raise DomainError(_("%(rule)s allows %(min)s to %(max)s points.")
                          % {"rule": label, "min": version.min_points, "max": version.max_points},
                          code="out_of_range", fields={"points": [_("Out of the rule's range.")]})
    if occurred_on > (today or local_today()):
        raise DomainError(_("The date lies in the future."), code="future_date",
                          fields={"occurred_on": [_("In the future.")]})
    if not version.applies_on(occurred_on):
        raise DomainError(_("%(rule)s is not in force on %(day)s.") % {"rule": label, "day": occurred_on.isoformat()},
                          code="not_in_force", fields={"occurred_on": [_("The rule is not in force then.")]})
    if version.evidence_required and not (evidence.strip() or has_file):
        raise DomainError(_("%(rule)s needs evidence: describe it or attach a file.") % {"rule": label},
                          code="evidence_required", fields={"evidence": [_("Required by this rule.")]})
    if resident_id is not None and version.cap_period:
        count, total = cap_usage(resident_id=resident_id, version=version, day=occurred_on)
        period = _period_text(version.cap_period)
        if version.cap_count and count + 1 > version.cap_count:
            raise Conflict(_("%(rule)s may be posted at most %(n)s times %(period)s per person; this resident has "
                             "reached it.") % {"rule": label, "n": version.cap_count, "period": period},
                           code="cap_reached", fields={"points": [_("Cap reached.")]})
        if version.cap_points and abs(total + points) > version.cap_points:
            raise Conflict(_("%(rule)s gives at most %(n)s points %(period)s per person; this resident has %(used)s "
                             "already.") % {"rule": label, "n": version.cap_points, "period": period,
                                            "used": abs(total)},
                           code="cap_reached", fields={"points": [_("Cap reached.")]})


def _same_posting(existing: Entry, *, resident_id: int, rule_id: int, points: int,
                  fingerprint: str | None = None) -> Entry:
    if (existing.resident_id, existing.rule_id, existing.points) != (resident_id, rule_id, points):
        raise idempotency.reused()
    if fingerprint:
        idempotency.check_same(existing.idempotency_fingerprint, fingerprint)
    return existing


def _post(*, resident_id: int, version: RuleVersion, points: int, reason: str, occurred_on: dt.date,
          evidence: str = "", evidence_file=None, source_kind: str, source_id: int | None = None,
          posted_by=None, approved_by=None, key: str, reverses: Entry | None = None,
          check: bool = True, lookup: list[str] | None = None, fingerprint: str | None = None) -> tuple[Entry, bool]:
    """Post one entry and add it to the balance (caller's transaction). Returns (entry, created);
    a key already posted (``key``, or any of ``lookup``) returns that entry and changes nothing
    (409 if it was another posting: other resident, rule or points, or another ``fingerprint``)."""
    assert transaction.get_connection().in_atomic_block, "_post runs inside the service's transaction"
    keys = lookup or [key]
    same = {"resident_id": resident_id, "rule_id": version.rule_id, "points": points, "fingerprint": fingerprint}
    existing = Entry.objects.filter(idempotency_key__in=keys).first()
    if existing is not None:
        return _same_posting(existing, **same), False
    lock_balances([(resident_id, version.kind)])
    existing = Entry.objects.filter(idempotency_key__in=keys).first()  # a twin committed while we waited
    if existing is not None:
        return _same_posting(existing, **same), False
    if check:
        check_posting(version=version, points=points, occurred_on=occurred_on, evidence=evidence,
                      has_file=bool(evidence_file), resident_id=resident_id)
    now = timezone.now()
    entry = Entry(resident_id=resident_id, rule_id=version.rule_id, rule_version=version, kind=version.kind,
                  points=points, occurred_on=occurred_on, reason=reason[:REASON_MAX], evidence=evidence,
                  source_kind=source_kind, source_id=source_id, posted_by=_user(posted_by),
                  approved_by=_user(approved_by), posted_at=now, idempotency_key=key, reverses=reverses,
                  idempotency_fingerprint=fingerprint)
    if evidence_file:
        entry.evidence_file = evidence_file
    try:
        with transaction.atomic():
            entry.save()
    except IntegrityError:
        existing = Entry.objects.filter(idempotency_key__in=keys).first()
        if existing is None:
            raise
        return _same_posting(existing, **same), False
    Balance.objects.filter(resident_id=resident_id, kind=version.kind).update(
        points=F("points") + points, entries=F("entries") + 1, updated_at=now)
    return entry, True


def _keys(namespace: str, legacy_prefix: str, idempotency_key: str | None) -> list[str]:
    """The stored key of a client's key (kernel.idempotency: whole, hashed; 400 over the limit) and
    the raw form rows from before hashing hold; [] without a key."""
    client = idempotency.clean_key(idempotency_key)
    if not client:
        return []
    return idempotency.lookup_keys(namespace, client, legacy=f"{legacy_prefix}{client}", legacy_max=KEY_MAX)


def _request_fingerprint(*, actor, resident, rule, points, reason, occurred_on, evidence) -> str:
    return idempotency.fingerprint(actor=_user(actor), resident=resident, rule=getattr(rule, "code", rule),
                                   points=points, reason=reason, occurred_on=occurred_on, evidence=evidence)


def _occurred(occurred_on) -> dt.date:
    if occurred_on in (None, ""):
        return local_today()
    if isinstance(occurred_on, dt.datetime):
        return timezone.localdate(occurred_on)
    if isinstance(occurred_on, dt.date):
        return occurred_on
    try:
        return dt.date.fromisoformat(str(occurred_on))
    except ValueError:
        raise DomainError(_("A date, YYYY-MM-DD."), fields={"occurred_on": [_("Not a date.")]})


def _entry_after(entry: Entry) -> dict:
    return {"resident": entry.resident_id, "rule": entry.rule_id, "version": entry.rule_version_id,
            "points": entry.points, "kind": entry.kind, "source": f"{entry.source_kind}:{entry.source_id or ''}",
            "key": entry.idempotency_key}


def post_entry(*, actor, resident: Resident, rule, points: int, reason: str, occurred_on=None,
               evidence: str = "", evidence_file=None, idempotency_key: str | None = None) -> Entry:
    """Staff award or deduct points under a rule that needs no committee."""
    version = current_version(rule)
    _require_poster(actor, resident, _("post points"))
    if version.committee_required:
        raise NotAllowed(_("%(rule)s needs the points committee: make a proposal.") % {"rule": _label(version)},
                         code="committee_required")
    keys = _keys("points.entry", "api:", idempotency_key)
    fingerprint = _request_fingerprint(actor=actor, resident=resident, rule=rule, points=points, reason=reason,
                                       occurred_on=occurred_on, evidence=evidence) if keys else None
    reason = _text(reason, "reason", REASON_MAX, required=True, message=_("Say why (the reason)."))
    evidence = _text(evidence, "evidence", EVIDENCE_MAX)
    day = _occurred(occurred_on)
    with transaction.atomic():
        entry, created = _post(resident_id=resident.pk, version=version, points=points, reason=reason,
                               occurred_on=day, evidence=evidence, evidence_file=evidence_file,
                               source_kind=SourceKind.MANUAL, posted_by=actor,
                               key=keys[0] if keys else f"api:{uuid.uuid4().hex}", lookup=keys,
                               fingerprint=fingerprint)
        if created:
            audit.record(actor=actor, action="points.post", target=entry, after=_entry_after(entry))
            notify_after_commit([entry.pk])
    return idempotency.mark(entry, created=created)


def reverse_entry(*, actor, entry: Entry, reason: str, source_kind: str = SourceKind.CORRECTION,
                  source_id: int | None = None, approved_by=None, _check_actor: bool = True) -> Entry:
    """Correct an entry by posting its exact opposite (the ledger is never edited)."""
    reason = _text(reason, "reason", REASON_MAX, required=True, message=_("Say why the entry is corrected."))
    with transaction.atomic():
        entry = Entry.objects.select_related("rule_version__rule", "resident").get(pk=entry.pk)
        if _check_actor:
            user = _user(actor)
            if not user or not (has_role(user, Role.DISTRICT_ADMIN) or has_role(user, Role.COMMITTEE_MEMBER)):
                raise NotAllowed(_("Only the committee or the district administrator corrects the ledger."))
            if user.pk in (entry.posted_by_id, entry.approved_by_id):
                raise NotAllowed(_("Someone other than who posted or approved the entry must correct it."),
                                 code="maker_checker")
        if entry.reverses_id:
            raise Conflict(_("This entry is itself a correction; post a new entry instead."), code="is_reversal")
        existing = Entry.objects.filter(reverses=entry).first()
        if existing is not None:
            if existing.idempotency_key == f"reverse:{entry.pk}":
                return idempotency.mark(existing, created=False)
            raise Conflict(_("This entry has already been reversed."), code="already_reversed")
        reversal, created = _post(
            resident_id=entry.resident_id, version=entry.rule_version, points=-entry.points,
            reason=reason, occurred_on=entry.occurred_on, source_kind=source_kind, source_id=source_id or entry.pk,
            posted_by=actor, approved_by=approved_by, key=f"reverse:{entry.pk}", reverses=entry, check=False)
        if created:
            audit.record(actor=actor, action="points.reverse", target=reversal,
                         after={**_entry_after(reversal), "reverses": entry.pk, "reason": reason[:200]})
            notify_after_commit([reversal.pk])
    return idempotency.mark(reversal, created=created)


def notify_after_commit(entry_ids: list[int]) -> None:
    """One ``points.entry_posted`` per entry, in the posting's transaction: the resident is told
    through the notification service (modules.points.notify), once."""
    for entry_id in entry_ids:
        events.publish("points.entry_posted", {"entry_id": entry_id})


def post_or_propose(*, to_committee: bool = False, **fields) -> Entry | Proposal:
    """Staff's one form for a deed: a rule that needs the committee (or a poster who wants its eyes on
    it) makes a proposal; any other is posted at once. ``fields`` are ``post_entry``'s."""
    if to_committee or current_version(fields["rule"]).committee_required:
        return propose(**fields)
    return post_entry(**fields)


# --- committee: proposals -----------------------------------------------------------------------------

def propose(*, actor, resident: Resident, rule, points: int, reason: str, occurred_on=None, evidence: str = "",
            evidence_file=None, idempotency_key: str | None = None) -> Proposal:
    """Put an award or deduction for one resident to the points committee (any rule)."""
    version = current_version(rule)
    _require_poster(actor, resident, _("propose points"))
    reason = _text(reason, "reason", REASON_MAX, required=True, message=_("Say why (the reason)."))
    evidence = _text(evidence, "evidence", EVIDENCE_MAX)
    day = _occurred(occurred_on)
    keys = _keys("points.proposal", "proposal:", idempotency_key)
    fingerprint = _request_fingerprint(actor=actor, resident=resident, rule=rule, points=points, reason=reason,
                                       occurred_on=occurred_on, evidence=evidence) if keys else None
    with transaction.atomic():
        if keys:
            existing = Proposal.objects.filter(idempotency_key__in=keys).first()
            if existing is not None:
                return _same_proposal(existing, fingerprint)
        check_posting(version=version, points=points, occurred_on=day, evidence=evidence,
                      has_file=bool(evidence_file))  # caps are checked when it is approved
        proposal = Proposal(kind=Proposal.Kind.SINGLE, rule_id=version.rule_id, rule_version=version,
                            resident=resident, points=points, occurred_on=day, reason=reason, evidence=evidence,
                            quorum=int(config()["committee_quorum"]), proposed_by=_user(actor),
                            idempotency_key=keys[0] if keys else None, idempotency_fingerprint=fingerprint)
        if evidence_file:
            proposal.evidence_file = evidence_file
        try:
            with transaction.atomic():
                proposal.save()
        except IntegrityError:  # a concurrent twin with the same key committed first
            existing = Proposal.objects.filter(idempotency_key__in=keys).first() if keys else None
            if existing is None:
                raise
            return _same_proposal(existing, fingerprint)
        audit.record(actor=actor, action="points.propose", target=proposal,
                     after={"resident": resident.pk, "rule": version.rule.code, "points": points})
    return idempotency.mark(proposal, created=True)


def _same_proposal(existing: Proposal, fingerprint: str | None) -> Proposal:
    idempotency.check_same(existing.idempotency_fingerprint, fingerprint)
    return idempotency.mark(existing, created=False)


def _lock_pending(proposal: Proposal) -> Proposal:
    proposal = Proposal.objects.select_for_update(of=("self",)).select_related("resident", "batch").get(pk=proposal.pk)
    if proposal.status != Proposal.Status.PENDING:
        raise Conflict(_("This proposal has already been decided (%(status)s).") % {"status": proposal.status},
                       code="already_decided")
    return proposal


def _require_member_for(user, proposal: Proposal) -> None:
    if proposal.kind == Proposal.Kind.SINGLE:
        _require_committee(user, resident=proposal.resident)
    else:
        _require_committee(user)
        from modules.points.batches import targets_outside_scope

        if targets_outside_scope(user, proposal.batch):
            raise NotAllowed(_("Some residents of this batch are outside your committee's area."),
                             code="out_of_scope")
    if proposal.proposed_by_id == user.pk:
        raise NotAllowed(_("The member who proposed it cannot approve or reject it (maker–checker)."),
                         code="maker_checker")
    if Vote.objects.filter(proposal=proposal, member=user).exists():
        raise Conflict(_("You have already decided on this proposal."), code="already_voted")


def approve_proposal(*, actor, proposal: Proposal, note: str = "") -> Proposal:
    """A committee member approves. At the quorum, the entry is posted (or the batch starts)."""
    user = _user(actor)
    with transaction.atomic():
        proposal = _lock_pending(proposal)
        _require_member_for(user, proposal)
        Vote.objects.create(proposal=proposal, member=user, decision=Vote.Decision.APPROVE, reason=note[:2000])
        approvals = Vote.objects.filter(proposal=proposal, decision=Vote.Decision.APPROVE).count()
        audit.record(actor=user, action="points.proposal.approve", target=proposal,
                     after={"approvals": approvals, "quorum": proposal.quorum})
        if approvals >= proposal.quorum:
            _carry_out(proposal, approver=user)
    return proposal


def _carry_out(proposal: Proposal, *, approver) -> None:
    now = timezone.now()
    if proposal.kind == Proposal.Kind.SINGLE:
        version = current_version(proposal.rule_id)  # posted under the version in force now
        entry, created = _post(resident_id=proposal.resident_id, version=version, points=proposal.points,
                               reason=proposal.reason, occurred_on=proposal.occurred_on, evidence=proposal.evidence,
                               evidence_file=proposal.evidence_file or None, source_kind=SourceKind.PROPOSAL,
                               source_id=proposal.pk, posted_by=proposal.proposed_by, approved_by=approver,
                               key=f"proposal:{proposal.pk}")
        proposal.entry = entry
        if created:
            notify_after_commit([entry.pk])
    else:
        from modules.points.batches import start_approved

        start_approved(proposal.batch, approver=approver)
    proposal.status, proposal.decided_at = Proposal.Status.APPROVED, now
    proposal.save(update_fields=["status", "decided_at", "entry"])
    audit.record(actor=approver, action="points.proposal.carried", target=proposal,
                 after={"entry": proposal.entry_id, "batch": proposal.batch_id})


def reject_proposal(*, actor, proposal: Proposal, reason: str) -> Proposal:
    """A committee member rejects, saying why; the proposal and its reason are kept."""
    user = _user(actor)
    reason = _text(reason, "reason", 2000, required=True, message=_("Say why the proposal is rejected."))
    with transaction.atomic():
        proposal = _lock_pending(proposal)
        _require_member_for(user, proposal)
        Vote.objects.create(proposal=proposal, member=user, decision=Vote.Decision.REJECT, reason=reason)
        proposal.status, proposal.decided_at, proposal.rejection_reason = (
            Proposal.Status.REJECTED, timezone.now(), reason)
        proposal.save(update_fields=["status", "decided_at", "rejection_reason"])
        if proposal.batch_id:
            from modules.points.batches import reject_batch

            reject_batch(proposal.batch, reason=reason)
        audit.record(actor=user, action="points.proposal.reject", target=proposal, after={"reason": reason[:500]})
    return proposal


def withdraw_proposal(*, actor, proposal: Proposal) -> Proposal:
    user = _user(actor)
    with transaction.atomic():
        proposal = _lock_pending(proposal)
        if not user or (proposal.proposed_by_id != user.pk and not has_role(user, Role.DISTRICT_ADMIN)):
            raise NotAllowed(_("Only who proposed it (or the administrator) may withdraw a proposal."))
        proposal.status, proposal.decided_at = Proposal.Status.WITHDRAWN, timezone.now()
        proposal.save(update_fields=["status", "decided_at"])
        if proposal.batch_id:
            from modules.points.batches import reject_batch

            reject_batch(proposal.batch, reason="withdrawn")
        audit.record(actor=user, action="points.proposal.withdraw", target=proposal)
    return proposal


# --- appeals ------------------------------------------------------------------------------------------

def appeal_refusal(*, reverses_id, reversed_: bool, posted_at, pending: bool, now=None, days: int | None = None
                   ) -> Conflict | None:
    """Why an entry cannot be appealed now, as the error ``file_appeal`` raises (None when it can). The
    resident's pages ask it too, so they offer "Appeal" exactly where the appeal would be taken."""
    days = int(config().get("appeal_days", 30)) if days is None else days
    if reverses_id:
        return Conflict(_("A correction cannot be appealed."), code="is_reversal")
    if reversed_:
        return Conflict(_("This entry has already been reversed."), code="already_reversed")
    if (now or timezone.now()) - posted_at > dt.timedelta(days=days):
        return Conflict(_("Appeals are possible for %(n)d days after an entry is posted.") % {"n": days},
                        code="appeal_too_late")
    if pending:
        return Conflict(_("This entry already has an appeal waiting for the committee."), code="appeal_open")
    return None


def file_appeal(*, actor, entry: Entry, reason: str, now=None) -> Appeal:
    """The resident disputes one of their entries."""
    reason = _text(reason, "reason", 2000, required=True, message=_("Say why you disagree."))
    user = _user(actor)
    resident = resident_of(user)
    if resident is None or resident.pk != entry.resident_id:
        raise NotAllowed(_("Only the resident the entry belongs to may appeal it."))
    with transaction.atomic():
        entry = Entry.objects.get(pk=entry.pk)
        refusal = appeal_refusal(
            reverses_id=entry.reverses_id, reversed_=Entry.objects.filter(reverses=entry).exists(),
            posted_at=entry.posted_at, now=now,
            pending=Appeal.objects.filter(entry=entry, status=Appeal.Status.PENDING).exists())
        if refusal is not None:
            raise refusal
        try:
            with transaction.atomic():
                appeal = Appeal.objects.create(entry=entry, resident_id=entry.resident_id, filed_by=user,
                                               reason=reason, quorum=int(config()["committee_quorum"]))
        except IntegrityError:
            raise Conflict(_("This entry already has an appeal waiting for the committee."), code="appeal_open")
        audit.record(actor=user, action="points.appeal.file", target=appeal, after={"entry": entry.pk})
    return appeal


def _lock_appeal(appeal: Appeal, user) -> Appeal:
    appeal = Appeal.objects.select_for_update(of=("self",)).select_related("entry", "resident").get(pk=appeal.pk)
    if appeal.status != Appeal.Status.PENDING:
        raise Conflict(_("This appeal has already been decided (%(status)s).") % {"status": appeal.status},
                       code="already_decided")
    _require_committee(user, resident=appeal.resident)
    entry = appeal.entry
    approved_it = entry.source_kind == SourceKind.PROPOSAL and Vote.objects.filter(
        proposal_id=entry.source_id, member=user, decision=Vote.Decision.APPROVE).exists()
    if user.pk in (entry.posted_by_id, entry.approved_by_id) or approved_it:
        raise NotAllowed(_("Members who posted or approved the entry do not decide its appeal."),
                         code="maker_checker")
    if Vote.objects.filter(appeal=appeal, member=user).exists():
        raise Conflict(_("You have already decided on this appeal."), code="already_voted")
    return appeal


def uphold_appeal(*, actor, appeal: Appeal, note: str = "") -> Appeal:
    """A member agrees with the resident. At the quorum the entry is reversed."""
    user = _user(actor)
    with transaction.atomic():
        appeal = _lock_appeal(appeal, user)
        Vote.objects.create(appeal=appeal, member=user, decision=Vote.Decision.APPROVE, reason=note[:2000])
        upheld = Vote.objects.filter(appeal=appeal, decision=Vote.Decision.APPROVE).count()
        audit.record(actor=user, action="points.appeal.uphold", target=appeal,
                     after={"votes": upheld, "quorum": appeal.quorum})
        if upheld >= appeal.quorum:
            reversal = reverse_entry(actor=user, entry=appeal.entry,
                                     reason=_("Appeal upheld: %(reason)s") % {"reason": appeal.reason[:200]},
                                     source_kind=SourceKind.APPEAL, source_id=appeal.pk, approved_by=user,
                                     _check_actor=False)
            appeal.status, appeal.decided_at, appeal.reversal = Appeal.Status.UPHELD, timezone.now(), reversal
            appeal.decision_reason = note.strip()
            appeal.save(update_fields=["status", "decided_at", "reversal", "decision_reason"])
            events.publish("points.appeal_decided", {"appeal_id": appeal.pk, "status": appeal.status})
    return appeal


def refuse_appeal(*, actor, appeal: Appeal, reason: str) -> Appeal:
    """A member refuses the appeal, saying why; the refusal is recorded and the entry stands."""
    user = _user(actor)
    reason = _text(reason, "reason", 2000, required=True, message=_("Say why the appeal is refused."))
    with transaction.atomic():
        appeal = _lock_appeal(appeal, user)
        Vote.objects.create(appeal=appeal, member=user, decision=Vote.Decision.REJECT, reason=reason)
        appeal.status, appeal.decided_at, appeal.decision_reason = Appeal.Status.REFUSED, timezone.now(), reason
        appeal.save(update_fields=["status", "decided_at", "decision_reason"])
        audit.record(actor=user, action="points.appeal.refuse", target=appeal, after={"reason": reason[:500]})
        events.publish("points.appeal_decided", {"appeal_id": appeal.pk, "status": appeal.status})
    return appeal


# --- automatic postings: verified reports ------------------------------------------------------------

def auto_rule(source: str, category: str) -> RuleVersion | None:
    """The current rule for an automatic source: one naming the case category wins over a general one."""
    candidates = list(RuleVersion.objects.select_related("rule").filter(is_current=True, auto_source=source)
                      .order_by("rule__code"))
    specific = [v for v in candidates if category and category in (v.auto_categories or [])]
    general = [v for v in candidates if not v.auto_categories]
    chosen = (specific or general or [None])[0]
    return chosen


def _household_residents(household_id: int | None, *, heads_only: bool) -> list[int]:
    if not household_id:
        return []
    qs = Membership.objects.filter(household_id=household_id, ended_at__isnull=True)
    if heads_only:
        qs = qs.filter(relation=Membership.Relation.HEAD)
    return sorted(set(qs.values_list("resident_id", flat=True)))


def award_verified_report(*, payload: dict) -> dict:
    """``cases.verified_report``: the reporter +, the reported household's members −, the praised
    household's members +, under the rules marked for it. Idempotent per case and person."""
    case_id = int(payload["case_id"])
    category = str(payload.get("category") or "")
    cfg = config()
    heads_only = cfg.get("household_awards") == "head"
    day = local_today()
    done = {"posted": 0, "proposed": 0, "skipped": 0}
    with transaction.atomic():
        households = {k: payload.get(k) for k in ("reporter_household_id", "offender_household_id",
                                                  "praised_household_id")}
        known = set(Household.objects.filter(pk__in=[v for v in households.values() if v]).values_list("pk", flat=True))
        ReportFact.objects.get_or_create(case_id=case_id, defaults={
            "channel": str(payload.get("channel") or "")[:20], "category": category[:40],
            "reporter_household_id": households["reporter_household_id"] if households["reporter_household_id"] in known else None,
            "offender_household_id": households["offender_household_id"] if households["offender_household_id"] in known else None,
            "praised_household_id": households["praised_household_id"] if households["praised_household_id"] in known else None,
        })
        reporter = None
        if payload.get("reporter_user_id"):
            reporter = Resident.objects.filter(user_id=payload["reporter_user_id"]).values_list("pk", flat=True).first()
        plan: list[tuple[str, int]] = []
        if reporter:
            plan.append((AutoSource.REPORTER, reporter))
        for rid in _household_residents(households["offender_household_id"], heads_only=heads_only):
            if rid != reporter:
                plan.append((AutoSource.OFFENDER, rid))
        for rid in _household_residents(households["praised_household_id"], heads_only=heads_only):
            if rid != reporter:
                plan.append((AutoSource.PRAISED, rid))
        entry_ids = []
        versions: dict[str, RuleVersion | None] = {}
        for source, resident_id in plan:
            if source not in versions:
                versions[source] = auto_rule(source, category)
            version = versions[source]
            if version is None:
                continue
            role = source.split(".")[-1]
            key = f"case:{case_id}:{role}:{resident_id}"
            points = version.default_points * version.sign
            reason = _("%(rule)s (verified report %(case)s)") % {"rule": version.name_zh, "case": case_id}
            if version.committee_required:
                if not Proposal.objects.filter(idempotency_key=key).exists():
                    proposal = Proposal.objects.create(
                        kind=Proposal.Kind.SINGLE, rule_id=version.rule_id, rule_version=version,
                        resident_id=resident_id, points=points, occurred_on=day, reason=reason,
                        evidence=f"case:{case_id}", source_kind=SourceKind.CASE, source_id=case_id,
                        quorum=int(cfg["committee_quorum"]), idempotency_key=key)
                    audit.record(actor=None, action="points.propose", target=proposal,
                                 after={"resident": resident_id, "rule": version.rule.code, "case": case_id})
                    done["proposed"] += 1
                continue
            try:
                with transaction.atomic():
                    entry, created = _post(resident_id=resident_id, version=version, points=points, reason=reason,
                                           occurred_on=day, evidence=f"case:{case_id}", source_kind=SourceKind.CASE,
                                           source_id=case_id, key=key)
            except DomainError as exc:  # over the cap, rule not in force, material points off: nothing posted
                log.info("automatic points skipped", extra={"case": case_id, "code": exc.code})
                done["skipped"] += 1
                continue
            if created:
                entry_ids.append(entry.pk)
                done["posted"] += 1
        if done["posted"] or done["proposed"] or done["skipped"]:
            audit.record(actor=None, action="points.auto.verified_report", target_type="cases.case",
                         target_id=str(case_id), after=done)
        notify_after_commit(entry_ids)
    return done


# --- compound civility score ----------------------------------------------------------------------------

def refresh_compound_scores(now=None) -> int:
    """Recompute every compound's civility score and rank in one statement (periodic task):

        score = civic points per current resident
                + 100 × (praise_weight × praises + report_weight × reports made − offence_weight × offences)
                  / households

    counting verified reports of the last ``window_days``."""
    from modules.points.models import CompoundScore
    from modules.registry.models import Building, Compound

    cfg = config().get("compound_score") or {}
    now = now or timezone.now()
    since = now - dt.timedelta(days=int(cfg.get("window_days", 365)))
    t = {m.__name__: m._meta.db_table for m in (Membership, Household, Building, Compound, Balance, ReportFact,
                                                 CompoundScore)}
    sql = f"""
    WITH cur AS (
        SELECT DISTINCT b.compound_id, m.resident_id
        FROM {t['Membership']} m JOIN {t['Household']} h ON h.id = m.household_id
        JOIN {t['Building']} b ON b.id = h.building_id
        WHERE m.ended_at IS NULL
    ), pts AS (
        SELECT cur.compound_id, count(*) AS residents, coalesce(sum(bal.points), 0) AS civic
        FROM cur LEFT JOIN {t['Balance']} bal ON bal.resident_id = cur.resident_id AND bal.kind = 'civic'
        GROUP BY cur.compound_id
    ), hh AS (
        SELECT b.compound_id, count(*) AS households
        FROM {t['Household']} h JOIN {t['Building']} b ON b.id = h.building_id GROUP BY b.compound_id
    ), facts AS (
        SELECT b.compound_id,
               count(*) FILTER (WHERE f.role = 'made') AS made,
               count(*) FILTER (WHERE f.role = 'praise') AS praises,
               count(*) FILTER (WHERE f.role = 'offence') AS offences
        FROM (
            SELECT reporter_household_id AS hid, 'made' AS role FROM {t['ReportFact']} WHERE verified_at >= %(since)s
            UNION ALL
            SELECT praised_household_id, 'praise' FROM {t['ReportFact']} WHERE verified_at >= %(since)s
            UNION ALL
            SELECT offender_household_id, 'offence' FROM {t['ReportFact']} WHERE verified_at >= %(since)s
        ) f JOIN {t['Household']} h ON h.id = f.hid JOIN {t['Building']} b ON b.id = h.building_id
        GROUP BY b.compound_id
    ), scored AS (
        SELECT c.id AS compound_id, coalesce(hh.households, 0) AS households, coalesce(pts.residents, 0) AS residents,
               coalesce(pts.civic, 0) AS civic, coalesce(facts.made, 0) AS made,
               coalesce(facts.praises, 0) AS praises, coalesce(facts.offences, 0) AS offences,
               round((coalesce(pts.civic, 0)::numeric / greatest(coalesce(pts.residents, 0), 1))
                     + 100.0 * (%(pw)s * coalesce(facts.praises, 0) + %(rw)s * coalesce(facts.made, 0)
                                - %(ow)s * coalesce(facts.offences, 0)) / greatest(coalesce(hh.households, 0), 1),
                     2) AS score
        FROM {t['Compound']} c LEFT JOIN hh ON hh.compound_id = c.id LEFT JOIN pts ON pts.compound_id = c.id
        LEFT JOIN facts ON facts.compound_id = c.id
    )
    INSERT INTO {t['CompoundScore']} (compound_id, households, residents, civic_points, reports_made, praises,
                                      offences, score, rank, computed_at)
    SELECT compound_id, households, residents, civic, made, praises, offences, score,
           rank() OVER (ORDER BY score DESC), %(now)s
    FROM scored
    ON CONFLICT (compound_id) DO UPDATE SET households = EXCLUDED.households, residents = EXCLUDED.residents,
        civic_points = EXCLUDED.civic_points, reports_made = EXCLUDED.reports_made, praises = EXCLUDED.praises,
        offences = EXCLUDED.offences, score = EXCLUDED.score, rank = EXCLUDED.rank,
        computed_at = EXCLUDED.computed_at
    """  # noqa: S608 - table names from _meta
    params = {"since": since, "now": now, "pw": float(cfg.get("praise_weight", 2)),
              "rw": float(cfg.get("report_weight", 1)), "ow": float(cfg.get("offence_weight", 3))}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


__all__ = ["approve_proposal", "award_verified_report", "create_rule", "file_appeal", "post_entry",
           "propose", "refresh_compound_scores", "refuse_appeal", "reject_proposal", "reverse_entry", "revise_rule",
           "seed", "uphold_appeal", "withdraw_proposal"]
