"""Data checks (数据核查, the "data audit" of the pages): find what is wrong in the population ledger and send each problem to the
grid worker of its grid, who confirms, fixes or dismisses it.

What a run finds (each is a Finding of one kind, identified by ``key``):
- ``invalid_id``: a stored ID number that ``kernel.personal.normalize_id_number`` refuses (length,
  format, birth date or region, checksum) or that cannot be decrypted.
- ``duplicate_person``: two records that are probably one person. Rule A: same name and same birth
  date (the birth date comes from the ID number) under different ID numbers: one of them was
  mistyped. Rule B: same phone number and same name, the ID numbers differing or one missing (a
  person registered once from the ledger and once by phone sign-in). Same phone under *different*
  names is not flagged: families register children and elderly parents with one phone, and flagging
  those would bury the real duplicates. Same name and birth date can be two real people: that is
  what "dismiss" is for.
- ``two_households``: a resident with more than one current household.
- ``over_capacity``: a household with more current residents than ``registered_size`` or, when that
  is not set, than ``module_config("registry")["household_max_residents"]``.
- ``no_household``: a resident with no current household.

Findings live across runs: a run that finds a problem again keeps its finding (a dismissed one stays
dismissed and is not counted; one marked fixed is reopened), and closes, as fixed, the open ones it
no longer finds. A run's counts are the problems it found that nobody dismissed, so the audit page
shows them going down as grid workers fix the data.

Routing: the grid of the household concerned (for a person: their current household, the newest if
several; for a person with none: their last household). Findings without a grid (a person who never
had a household) go to the district administrators.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Case, CharField, Count, F, QuerySet, Value, When
from django.db.models.functions import Concat
from django.utils import timezone

from kernel import audit as audit_log
from kernel import jobs
from kernel.errors import Conflict, DomainError, NotAllowed
from kernel.permissions import has_role, has_role_for, in_scope
from kernel.personal import decrypt, mask_id_number, normalize_id_number
from kernel.roles import GRID_WORKERS, Role
from kernel.selectors import module_config
from modules.registry.ledger.problems import PROBLEMS
from modules.registry.models import AuditRun, Finding, Household, Membership, Resident
from modules.registry.models_ledger import FINDING_KINDS

RUNNERS = (Role.DISTRICT_ADMIN, Role.COMMUNITY_STAFF)
HANDLERS = (Role.DISTRICT_ADMIN, Role.COMMUNITY_STAFF, *GRID_WORKERS)
INLINE_MAX_RESIDENTS = 20_000  # audits of districts up to this size run in the request
RUN_TASK = "registry.tasks.run_audit"
STALE_RUN = timedelta(hours=2)  # a queued/running run older than this no longer blocks a new one
FINDING_SCOPE = {"grid": "grid__code", "community": "grid__community__code",
                 "street": "grid__community__street__code"}
RESOLUTIONS = (Finding.Status.CONFIRMED, Finding.Status.FIXED, Finding.Status.DISMISSED)


@dataclass
class Issue:
    kind: str
    key: str
    resident_id: int | None = None
    other_resident_id: int | None = None
    household_id: int | None = None
    grid_id: int | None = None
    details: dict = field(default_factory=dict)


# --- finding problems ----------------------------------------------------------------------------------

def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _fetch(sql: str, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def find_invalid_ids() -> tuple[list[Issue], int]:
    issues, checked = [], 0
    rows = Resident.objects.exclude(id_number_encrypted="").values_list("id", "id_number_encrypted")
    for resident_id, token in rows.iterator(chunk_size=10_000):
        checked += 1
        try:
            value = decrypt(token)
        except ValueError:
            issues.append(Issue("invalid_id", str(resident_id), resident_id, details={"code": "undecryptable"}))
            continue
        try:
            normalize_id_number(value)
        except ValidationError as exc:
            issues.append(Issue("invalid_id", str(resident_id), resident_id, details={"code": exc.code}))
    return issues, checked


def find_duplicates() -> list[Issue]:
    r = _table(Resident)
    pairs: dict[tuple[int, int], set[str]] = defaultdict(set)
    rules = {
        "name_birth": f"SELECT array_agg(id ORDER BY id) FROM {r} WHERE birth_date IS NOT NULL "
                      f"GROUP BY name, birth_date HAVING count(*) > 1",
        "phone_name": f"SELECT array_agg(id ORDER BY id) FROM {r} WHERE phone_index IS NOT NULL "
                      f"GROUP BY phone_index, name HAVING count(*) > 1",
    }
    for rule, sql in rules.items():
        for (ids,) in _fetch(sql):
            first = ids[0]
            for other in ids[1:]:
                pairs[(first, other)].add(rule)
    return [Issue("duplicate_person", f"{older}-{newer}", newer, older, details={"rules": sorted(found)})
            for (older, newer), found in pairs.items()]


def find_two_households() -> list[Issue]:
    m, h = _table(Membership), _table(Household)
    sql = (f"SELECT m.resident_id, array_agg(m.household_id ORDER BY m.id), "
           f"(array_agg(h.grid_id ORDER BY m.id DESC))[1] FROM {m} m JOIN {h} h ON h.id = m.household_id "
           f"WHERE m.ended_at IS NULL GROUP BY m.resident_id HAVING count(*) > 1")
    return [Issue("two_households", str(resident), resident, household_id=households[-1], grid_id=grid,
                  details={"households": households}) for resident, households, grid in _fetch(sql)]


def find_over_capacity(default_limit: int) -> tuple[list[Issue], int]:
    m, h = _table(Membership), _table(Household)
    sql = (f"SELECT h.id, h.grid_id, h.registered_size, count(*) FROM {h} h JOIN {m} m "
           f"ON m.household_id = h.id AND m.ended_at IS NULL GROUP BY h.id "
           f"HAVING count(*) > coalesce(h.registered_size, %s)")
    issues = [Issue("over_capacity", str(household), household_id=household, grid_id=grid,
                    details={"residents": n, "limit": size if size is not None else default_limit,
                             "limit_from": "registered_size" if size is not None else "config"})
              for household, grid, size, n in _fetch(sql, [default_limit])]
    return issues, Household.objects.count()


def find_no_household() -> list[Issue]:
    r, m, h = _table(Resident), _table(Membership), _table(Household)
    sql = (f"SELECT r.id, last.household_id, last.grid_id FROM {r} r LEFT JOIN LATERAL ("
           f"  SELECT m.household_id, h.grid_id FROM {m} m JOIN {h} h ON h.id = m.household_id "
           f"  WHERE m.resident_id = r.id ORDER BY m.ended_at DESC NULLS FIRST, m.id DESC LIMIT 1) last ON true "
           f"WHERE NOT EXISTS (SELECT 1 FROM {m} c WHERE c.resident_id = r.id AND c.ended_at IS NULL)")
    return [Issue("no_household", str(resident), resident, grid_id=grid,
                  details={"last_household": household} if household else {})
            for resident, household, grid in _fetch(sql)]


def _route_people(issues: list[Issue]) -> None:
    """Give findings about a person the household and grid of their (newest) current household,
    or of the other record of a duplicate when the first has none."""
    wanted = {i.resident_id for i in issues if i.grid_id is None and i.resident_id}
    wanted |= {i.other_resident_id for i in issues if i.grid_id is None and i.other_resident_id}
    if not wanted:
        return
    m, h = _table(Membership), _table(Household)
    home: dict[int, tuple[int, int]] = {}
    ids = sorted(wanted)
    for start in range(0, len(ids), 20_000):
        sql = (f"SELECT DISTINCT ON (m.resident_id) m.resident_id, m.household_id, h.grid_id FROM {m} m "
               f"JOIN {h} h ON h.id = m.household_id WHERE m.ended_at IS NULL AND m.resident_id = ANY(%s) "
               f"ORDER BY m.resident_id, m.id DESC")
        for resident, household, grid in _fetch(sql, [ids[start:start + 20_000]]):
            home[resident] = (household, grid)
    for issue in issues:
        if issue.grid_id is not None:
            continue
        found = home.get(issue.resident_id) or home.get(issue.other_resident_id)
        if found:
            issue.household_id = issue.household_id or found[0]
            issue.grid_id = found[1]


def detect() -> tuple[list[Issue], dict[str, int]]:
    """Every problem in the registry now, and how much was checked."""
    limit = module_config("registry")["household_max_residents"]
    invalid, checked = find_invalid_ids()
    over, households = find_over_capacity(limit)
    person_issues = [*invalid, *find_duplicates()]
    _route_people(person_issues)
    issues = [*person_issues, *find_two_households(), *over, *find_no_household()]
    return issues, {"residents": Resident.objects.count(), "ids_checked": checked, "households": households}


# --- runs --------------------------------------------------------------------------------------------

def start_audit(*, actor, background: bool | None = None) -> AuditRun:
    """Start a run over the whole district. Small districts are audited in the request."""
    if actor is not None and not has_role(actor, *RUNNERS):
        raise NotAllowed("只有区管理员和社区工作人员可以发起数据核查。"
                         "Only the district administrator and community staff start a data audit.")
    with transaction.atomic():
        busy = AuditRun.objects.select_for_update().filter(
            status__in=[AuditRun.Status.QUEUED, AuditRun.Status.RUNNING], created_at__gte=timezone.now() - STALE_RUN)
        if busy.exists():
            raise Conflict("已有一次数据核查正在进行，请等它完成。An audit is already running: wait for it to finish.",
                           code="audit_running")
        run = AuditRun.objects.create(started_by=actor if getattr(actor, "pk", None) else None)
        audit_log.record(actor=actor, action="registry.audit.start", target=run)
    if background is None:
        background = Resident.objects.count() > INLINE_MAX_RESIDENTS
    if background:
        jobs.queue(RUN_TASK, run.pk)  # by name; broker down: the run stays queued for the sweep
    else:
        perform_audit(run_id=run.pk)
    run.refresh_from_db()
    return run


def _work(run: AuditRun) -> None:
    issues, checked = detect()
    _apply(run.pk, issues, checked)


def _failure(exc: BaseException) -> str:
    return f"核查出错，已记录。Something went wrong and it has been logged ({type(exc).__name__})."


AUDIT_RUNS = jobs.JobKind(lock="audit-run", model=AuditRun, task=RUN_TASK, work=_work, failure=_failure,
                          queued_since="created_at")


def perform_audit(*, run_id: int) -> AuditRun | None:
    """Run the audit (kernel.jobs runs it, under its lock, beating). Everything it writes is written
    in one transaction at the end, so a run redelivered after a killed worker simply runs again; a
    finished run is not run twice."""
    return jobs.run(AUDIT_RUNS, run_id)


def dead_runs() -> list[int]:
    """Runs nobody runs although they should be (kernel.jobs.to_resume): their worker died, or their
    task was lost with the broker."""
    return jobs.to_resume(AUDIT_RUNS)


def _apply(run_id: int, issues: list[Issue], checked: dict[str, int]) -> None:
    with transaction.atomic():
        run = AuditRun.objects.select_for_update().get(pk=run_id)
        if run.status == AuditRun.Status.DONE:
            return
        now = timezone.now()
        existing = {(kind, key): (pk, status, grid, household, details) for pk, kind, key, status, grid, household, details
                    in Finding.objects.values_list("id", "kind", "key", "status", "grid_id", "household_id", "details")}
        counts = dict.fromkeys(FINDING_KINDS, 0)
        create, touch, reopen, reroute = [], [], [], []
        found_ids: set[int] = set()
        for issue in issues:
            current = existing.get((issue.kind, issue.key))
            if current is None:
                counts[issue.kind] += 1
                create.append(Finding(run=run, last_run=run, kind=issue.kind, key=issue.key,
                                      resident_id=issue.resident_id, other_resident_id=issue.other_resident_id,
                                      household_id=issue.household_id, grid_id=issue.grid_id, details=issue.details))
                continue
            pk, status, grid, household, details = current
            found_ids.add(pk)
            touch.append(pk)
            if status != Finding.Status.DISMISSED:
                counts[issue.kind] += 1
            if status == Finding.Status.FIXED:
                reopen.append(pk)
            if (grid, household, details) != (issue.grid_id, issue.household_id, issue.details):
                reroute.append(Finding(pk=pk, grid_id=issue.grid_id, household_id=issue.household_id,
                                       details=issue.details, updated_at=now))
        Finding.objects.bulk_create(create, batch_size=5000)
        for start in range(0, len(touch), 20_000):
            Finding.objects.filter(pk__in=touch[start:start + 20_000]).update(last_run=run)
        if reroute:
            Finding.objects.bulk_update(reroute, ["grid", "household", "details", "updated_at"], batch_size=2000)
        reopened = Finding.objects.filter(pk__in=reopen).update(
            status=Finding.Status.OPEN, resolved_by=None, resolved_at=None, updated_at=now,
            note=_note_expression(f"第{run.pk}次核查仍发现此问题，已重新打开 / Still found by audit run {run.pk}: reopened"))
        gone = [pk for pk, status, *_rest in existing.values()
                if status in (Finding.Status.OPEN, Finding.Status.CONFIRMED) and pk not in found_ids]
        closed = 0
        for start in range(0, len(gone), 20_000):
            closed += Finding.objects.filter(pk__in=gone[start:start + 20_000]).update(
                status=Finding.Status.FIXED, resolved_by=None, resolved_at=now, updated_at=now,
                note=_note_expression(f"第{run.pk}次核查未再发现，自动关闭 / Not found by audit run {run.pk}: closed"))
        for kind, n in counts.items():
            setattr(run, kind, n)
        run.residents_checked = checked["residents"]
        run.households_checked = checked["households"]
        run.new_findings, run.closed_findings, run.reopened_findings = len(create), closed, reopened
        run.status, run.finished_at = AuditRun.Status.DONE, now
        run.save()
        audit_log.record(actor=run.started_by, action="registry.audit.run", target=run,
                         after={**counts, "new": len(create), "closed": closed, "reopened": reopened,
                                "residents": checked["residents"]})


def _note_expression(text: str):
    """note = text when empty, else note + newline + text (in SQL, for bulk updates)."""
    return Case(When(note="", then=Value(text)), default=Concat(F("note"), Value("\n" + text)),
                output_field=CharField())


# --- the grid worker's side ------------------------------------------------------------------------

def findings_for(user) -> QuerySet:
    """Findings the user may see and handle: district admins all; community staff those of grids in
    their community or street; grid workers those of their grids (held by role or owned)."""
    qs = Finding.objects.select_related("grid", "household__building__compound", "resident", "other_resident",
                                        "run", "last_run", "resolved_by")
    if has_role(user, Role.DISTRICT_ADMIN):
        return qs
    scoped = in_scope(user, qs, roles=[Role.COMMUNITY_STAFF, *GRID_WORKERS], fields=FINDING_SCOPE)
    return scoped | qs.filter(grid__worker=user) if getattr(user, "pk", None) else scoped


def can_handle(user, finding: Finding) -> bool:
    if has_role(user, Role.DISTRICT_ADMIN):
        return True
    grid = finding.grid
    if grid is None:
        return has_role_for(user, [Role.COMMUNITY_STAFF], "district", "")
    if grid.worker_id and grid.worker_id == getattr(user, "pk", None):
        return True
    return has_role_for(user, [Role.COMMUNITY_STAFF, *GRID_WORKERS], "grid", grid.code)


def resolve_finding(*, actor, finding: Finding, status: str, note: str = "") -> Finding:
    """The grid worker confirms (it is a problem, being handled), fixes or dismisses a finding."""
    note = (note or "").strip()
    if status not in RESOLUTIONS:
        raise DomainError("status: 只能是 confirmed、fixed 或 dismissed。status: one of confirmed, fixed, dismissed.",
                          fields={"status": ["confirmed, fixed, dismissed"]})
    if status == Finding.Status.DISMISSED and not note:
        raise DomainError("note: 请说明为什么这不是问题。note: say why this is not a problem.",
                          fields={"note": ["required to dismiss"]})
    if len(note) > 2000:
        raise DomainError("note: 最多2000字。note: 2000 characters at most.", fields={"note": ["too long"]})
    with transaction.atomic():
        finding = Finding.objects.select_for_update(of=("self",)).select_related("grid").get(pk=finding.pk)
        if not can_handle(actor, finding):
            raise NotAllowed("这条核查结果不在您负责的网格内。This finding is outside your grids.")
        if finding.status in (Finding.Status.FIXED, Finding.Status.DISMISSED):
            raise Conflict("这条核查结果已经处理完毕。This finding is already closed.", code="finding_closed")
        before = {"status": finding.status}
        finding.status = status
        finding.resolved_by = actor if getattr(actor, "pk", None) else None
        finding.resolved_at = timezone.now()
        if note:
            finding.note = f"{finding.note}\n{note}".strip()
        finding.save(update_fields=["status", "resolved_by", "resolved_at", "note", "updated_at"])
        audit_log.record(actor=actor, action=f"registry.finding.{status}", target=finding, before=before,
                         after={"status": status, "kind": finding.kind, "note": note})
    return finding


# --- reads -----------------------------------------------------------------------------------------

def run_history(limit: int = 30) -> list[AuditRun]:
    """Finished runs, oldest first: the counts per kind over time."""
    runs = list(AuditRun.objects.filter(status=AuditRun.Status.DONE).order_by("-created_at", "-id")[:limit])
    return runs[::-1]


def latest_run() -> AuditRun | None:
    return AuditRun.objects.order_by("-created_at", "-id").first()


def open_counts(findings: QuerySet) -> dict[str, int]:
    """Open or confirmed findings per kind, in the given (scoped) queryset."""
    rows = findings.filter(status__in=[Finding.Status.OPEN, Finding.Status.CONFIRMED]).order_by().values(
        "kind").annotate(n=Count("id"))
    counts = dict.fromkeys(FINDING_KINDS, 0)
    counts.update({r["kind"]: r["n"] for r in rows})
    return counts


def describe(finding: Finding, *, full_numbers: bool = False) -> dict[str, str]:
    """What the finding is about, in Chinese and English (ID numbers masked unless allowed)."""
    d = finding.details or {}
    kind = finding.kind
    if kind == "invalid_id":
        zh, en = PROBLEMS.get(d.get("code", ""), ("身份证号无法读取（密钥不对？）", "The ID number cannot be read (wrong key?)"))
        return {"zh": f"身份证号无效：{zh}", "en": f"Invalid ID number: {en}"}
    if kind == "duplicate_person":
        other = finding.other_resident
        who = f"{other.name} {masked_id(other, full=full_numbers)}".strip() if other else "?"
        zh_rule = "、".join({"name_birth": "姓名和出生日期相同", "phone_name": "姓名和电话相同"}[r] for r in d.get("rules", []))
        en_rule = ", ".join({"name_birth": "same name and birth date", "phone_name": "same name and phone"}[r]
                            for r in d.get("rules", []))
        return {"zh": f"可能与 {who} 是同一人（{zh_rule}）", "en": f"Probably the same person as {who} ({en_rule})"}
    if kind == "two_households":
        addresses = [str(h) for h in Household.objects.filter(pk__in=d.get("households", [])).select_related(
            "building__compound")]
        return {"zh": f"同时登记在{len(addresses)}户：" + "；".join(addresses),
                "en": f"Bound to {len(addresses)} households: " + "; ".join(addresses)}
    if kind == "over_capacity":
        source_zh = "登记人数" if d.get("limit_from") == "registered_size" else "每户上限"
        source_en = "registered for" if d.get("limit_from") == "registered_size" else "district limit"
        return {"zh": f"现有{d.get('residents')}人，超过{source_zh}{d.get('limit')}人",
                "en": f"{d.get('residents')} residents, more than {d.get('limit')} ({source_en})"}
    return {"zh": "未绑定任何户", "en": "Not bound to any household"}


def masked_id(resident: Resident | None, *, full: bool = False) -> str:
    if resident is None or not resident.id_number_encrypted:
        return ""
    try:
        value = resident.id_number
    except ValueError:
        return "?"
    return value if full else mask_id_number(value)
