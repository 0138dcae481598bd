"""Writes of the ledger: posting an entry under a rule, reversing one, and the helpers every
points service shares (the module's configuration, the actor, text fields, the rule in force, who
may post for whom).

Every posting goes through ``_post``: it locks the resident's balance row (so rule caps hold under
concurrency), re-checks the idempotency key, checks the rule (sign, range, dates, caps, evidence),
inserts the entry and adds it to the balance, all in the caller's transaction. Batches post the same
way, set-based, in ``modules.points.batches.services``; the committee's proposals, appeals and the
automatic awards of verified reports post through ``_post`` too."""
from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass

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
from modules.points.ledger.models import (
    EVIDENCE_MAX,
    KEY_MAX,
    REASON_MAX,
    Balance,
    BalanceKind,
    CapPeriod,
    Direction,
    Entry,
    Rule,
    RuleVersion,
    SourceKind,
)
from modules.registry.models import Resident
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


@dataclass(frozen=True)
class Automatic:
    """A posting or proposal the platform makes by itself under an automatic rule (``AutoSource``), e.g.
    for a verified report: nobody posts it, so no poster's role and scope are checked; ``key`` makes it
    idempotent (the same key again returns what was made and changes nothing)."""

    source_kind: str
    source_id: int
    key: str


def require_poster_or_rule(actor, resident: Resident, version: RuleVersion, automatic: Automatic | None,
                           action: str) -> None:
    """Who may post or propose: a poster covering the resident, or the platform under an automatic rule."""
    if automatic is None:
        _require_poster(actor, resident, action)
    elif not version.auto_source:
        raise NotAllowed(_("%(rule)s is not an automatic rule: staff post it.") % {"rule": _label(version)},
                         code="not_automatic")


def post_entry(*, actor, resident: Resident, rule, points: int, reason: str, occurred_on=None,
               evidence: str = "", evidence_file=None, idempotency_key: str | None = None,
               automatic: Automatic | None = None) -> Entry:
    """Staff (or the platform, ``automatic``) award or deduct points under a rule that needs no committee."""
    version = current_version(rule)
    require_poster_or_rule(actor, resident, version, automatic, _("post points"))
    if version.committee_required:
        raise NotAllowed(_("%(rule)s needs the points committee: make a proposal.") % {"rule": _label(version)},
                         code="committee_required")
    keys = [automatic.key] if automatic else _keys("points.entry", "api:", idempotency_key)
    fingerprint = _request_fingerprint(actor=actor, resident=resident, rule=rule, points=points, reason=reason,
                                       occurred_on=occurred_on, evidence=evidence) if keys and not automatic else None
    reason = _text(reason, "reason", REASON_MAX, required=True, message=_("Say why (the reason)."))
    evidence = _text(evidence, "evidence", EVIDENCE_MAX)
    day = _occurred(occurred_on)
    with transaction.atomic():
        entry, created = _post(resident_id=resident.pk, version=version, points=points, reason=reason,
                               occurred_on=day, evidence=evidence, evidence_file=evidence_file,
                               source_kind=automatic.source_kind if automatic else SourceKind.MANUAL,
                               source_id=automatic.source_id if automatic else None, posted_by=actor,
                               key=keys[0] if keys else f"api:{uuid.uuid4().hex}", lookup=keys,
                               fingerprint=fingerprint)
        if created:
            audit.record(actor=actor, action="points.auto.post" if automatic else "points.post", target=entry,
                         after=_entry_after(entry))
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
