"""Award batches (批次): one rule awarded to many residents — e.g. 19,747 residents +5 for joining a
drill — from a list of resident ids or ID numbers, a place, or a source another module registers
(the attendees of a volunteer drive).

The residents are numbered (``BatchTarget.seq``) when the batch is made. A Celery task posts them in
chunks of ``Batch.chunk_size``; each chunk is one transaction and one statement:

    INSERT INTO entry … SELECT … FROM targets[lo:hi] ON CONFLICT (idempotency_key) DO NOTHING RETURNING …
    → INSERT INTO balance … SELECT resident, sum(points) … GROUP BY … ON CONFLICT DO UPDATE (+=)

with the batch's progress saved in the same transaction. The idempotency key is
``batch:<batch id>:<resident id>``, so a worker killed halfway resumes at the first uncommitted chunk
and never posts anyone twice, and re-running a finished batch posts nothing. An advisory lock keeps
a redelivered task from running a batch that is still running elsewhere (kernel.jobs, the runner of
every long job)."""
from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import EmptyResultSet
from django.db import IntegrityError, connection, transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from kernel import audit, events, idempotency, jobs
from kernel.errors import Conflict, DomainError, NotAllowed
from kernel.permissions import has_role, in_scope
from kernel.personal import blind_index, normalize_id_number
from kernel.roles import Role, ScopeKind
from kernel.selectors import roles_of
from kernel.text import clean_text
from modules.points.batches import selectors as batch_selectors
from modules.points.ledger import services
from modules.points.models import (
    EVIDENCE_MAX,
    REASON_MAX,
    Balance,
    Batch,
    BatchTarget,
    Entry,
    Proposal,
    RuleVersion,
    SourceKind,
)
from modules.registry.models import Resident
from modules.registry.selectors import RESIDENT_SCOPE

DEFAULT_CHUNK = 2000
MAX_TARGETS = 500_000
# Batches run on the kernel's job runner (kernel.jobs, BATCHES below): a running batch beats; one whose
# beat stopped, or that stayed queued, is resumed by the sweep, every minute.


# --- where the residents come from ----------------------------------------------------------------

TargetSource = Callable[[dict], QuerySet]
_sources: dict[str, TargetSource] = {}


def register_target_source(key: str, fn: TargetSource) -> None:
    """Let a module offer a way to choose residents, e.g. participation's ``drive_attendees``:
    ``fn(params) -> QuerySet of Resident``."""
    _sources[key] = fn


PLACE_LOOKUPS = {
    "street": "memberships__household__grid__community__street__code",
    "community": "memberships__household__grid__community__code",
    "grid": "memberships__household__grid__code",
    "compound": "memberships__household__building__compound__code",
}


def residents_of_place(params: dict) -> QuerySet:
    kind, code = params.get("kind"), str(params.get("code") or "")
    if kind not in PLACE_LOOKUPS or not code:
        raise DomainError(_("Say which place: street, community, grid or compound, and its code."),
                          fields={"place": [_("Unknown place.")]})
    return Resident.objects.filter(**{PLACE_LOOKUPS[kind]: code, "memberships__ended_at__isnull": True})


register_target_source("place", residents_of_place)


def _insert_ids(batch_id: int, ids: list[int]) -> int:
    table = BatchTarget._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (batch_id, seq, resident_id) "  # noqa: S608 - table from _meta
            f"SELECT %s, row_number() OVER (ORDER BY r.id) - 1, r.id FROM {Resident._meta.db_table} r "
            "WHERE r.id = ANY(%s::bigint[])", [batch_id, ids])
        return cursor.rowcount


def _insert_query(batch_id: int, qs: QuerySet) -> int:
    try:
        sql, params = qs.values_list("pk", flat=True).distinct().order_by().query.sql_with_params()
    except EmptyResultSet:  # a source that can match nobody (``none()``, ``pk__in=[]``)
        return 0
    table = BatchTarget._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (batch_id, seq, resident_id) "  # noqa: S608 - table from _meta
            f"SELECT %s, row_number() OVER (ORDER BY q.id) - 1, q.id FROM ({sql}) AS q(id)", [batch_id, *params])
        return cursor.rowcount


def _resident_ids_of_id_numbers(id_numbers) -> tuple[list[int], int]:
    """Residents found by ID number (through the blind index); the numbers are not kept anywhere."""
    indexes, invalid = set(), 0
    for raw in id_numbers:
        try:
            indexes.add(blind_index(normalize_id_number(str(raw)), "id"))
        except Exception:  # noqa: BLE001 - a bad number is counted, never logged
            invalid += 1
    found: list[int] = []
    listed = list(indexes)
    for i in range(0, len(listed), 5000):
        found.extend(Resident.objects.filter(id_number_index__in=listed[i:i + 5000]).values_list("pk", flat=True))
    return found, invalid + (len(indexes) - len(found))


# --- making and starting batches ----------------------------------------------------------------------

def targets_outside_scope(user, batch: Batch, roles=(Role.COMMITTEE_MEMBER,)) -> bool:
    """Does the batch list anyone outside the user's scopes for ``roles``?"""
    if any(a.role in roles and a.scope_kind == ScopeKind.DISTRICT for a in roles_of(user)):
        return False
    inside = in_scope(user, Resident.objects.all(), roles=roles, fields=RESIDENT_SCOPE).values("pk")
    return BatchTarget.objects.filter(batch=batch).exclude(resident_id__in=inside).exists()


def create_batch(*, actor, rule, points: int, reason: str, title: str = "", occurred_on=None, evidence: str = "",
                 resident_ids=None, id_numbers=None, place: dict | None = None, source: str | None = None,
                 params: dict | None = None, chunk_size: int | None = None, background: bool = True,
                 idempotency_key: str | None = None) -> Batch:
    """Make a batch of one rule for many residents. It goes to the committee when the rule or the
    district's configuration asks for it, otherwise it starts at once (in Celery unless
    ``background=False``). The same ``idempotency_key`` again returns the first batch
    (kernel.idempotency: 409 if the request differs)."""
    version = services.current_version(rule)
    user = services._user(actor)
    if not user or not has_role(user, *services.POSTER_ROLES):
        raise NotAllowed(_("Only community staff, grid workers, the committee and administrators may %(action)s.")
                         % {"action": _("make award batches")})
    client_key = idempotency.clean_key(idempotency_key)
    key = fingerprint = None
    if client_key:
        key = idempotency.stored_key("points.batch", client_key)
        fingerprint = idempotency.fingerprint(
            actor=user, rule=getattr(rule, "code", rule), points=points, reason=reason, title=title,
            occurred_on=occurred_on, evidence=evidence, place=place, source=source, params=params,
            chunk_size=chunk_size, resident_ids=sorted({str(i).strip() for i in resident_ids}) if resident_ids else None,
            # ID numbers enter only as a keyed hash (never stored, not even as a plain digest)
            id_numbers=blind_index("\n".join(sorted(str(n).strip() for n in id_numbers)), "batch_id_numbers")
            if id_numbers else None)
        existing = Batch.objects.filter(idempotency_key=key).first()
        if existing is not None:
            return _repeat(existing, fingerprint)
    try:
        return _create_batch(user=user, version=version, points=points, reason=reason, title=title,
                             occurred_on=occurred_on, evidence=evidence, resident_ids=resident_ids,
                             id_numbers=id_numbers, place=place, source=source, params=params,
                             chunk_size=chunk_size, background=background, key=key, fingerprint=fingerprint)
    except IntegrityError:
        existing = Batch.objects.filter(idempotency_key=key).first() if key else None
        if existing is None:
            raise
        return _repeat(existing, fingerprint)  # a concurrent twin with the same key committed first


def _repeat(existing: Batch, fingerprint: str) -> Batch:
    idempotency.check_same(existing.idempotency_fingerprint, fingerprint)
    return idempotency.mark(existing, created=False)


def _create_batch(*, user, version, points, reason, title, occurred_on, evidence, resident_ids, id_numbers, place,
                  source, params, chunk_size, background, key, fingerprint) -> Batch:
    reason = services._text(reason, "reason", REASON_MAX, required=True, message=_("Say why (the reason)."))
    evidence = services._text(evidence, "evidence", EVIDENCE_MAX)
    title = clean_text(title, field="title", max_length=120, required=False, name=True) or version.name_zh
    day = services._occurred(occurred_on)
    services.check_posting(version=version, points=points, occurred_on=day, evidence=evidence)
    chosen = [x is not None for x in (resident_ids, id_numbers, place, source)]
    if sum(chosen) != 1:
        raise DomainError(_("Choose the residents one way: a list of residents, of ID numbers, a place or a source."),
                          fields={"targets": [_("Choose one.")]})
    size = int(chunk_size or DEFAULT_CHUNK)
    if not 1 <= size <= 20_000:
        raise DomainError(_("The chunk size is between 1 and 20000."), fields={"chunk_size": [_("Out of range.")]})
    cfg = services.config()
    needs_committee = version.committee_required or bool(cfg.get("batch_needs_committee", True))
    with transaction.atomic():
        batch = Batch.objects.create(
            title=title, rule_id=version.rule_id, rule_version=version, points=points, occurred_on=day, reason=reason,
            evidence=evidence, target_source="", status=Batch.Status.AWAITING if needs_committee else Batch.Status.QUEUED,
            chunk_size=size, created_by=user, idempotency_key=key, idempotency_fingerprint=fingerprint)
        unknown = 0
        if resident_ids is not None:
            ids = sorted({int(i) for i in resident_ids})
            count = _insert_ids(batch.pk, ids)
            unknown, kind, info = len(ids) - count, "residents", {}
        elif id_numbers is not None:
            numbers = list(id_numbers)
            ids, unknown = _resident_ids_of_id_numbers(numbers)
            count = _insert_ids(batch.pk, sorted(set(ids)))
            kind, info = "id_numbers", {"listed": len(numbers)}
        elif place is not None:
            count, kind, info = _insert_query(batch.pk, residents_of_place(place)), "place", dict(place)
        else:
            fn = _sources.get(source or "")
            if fn is None:
                raise DomainError(_("Unknown source of residents: %(source)s.") % {"source": source},
                                  fields={"source": [_("Unknown source.")]})
            count, kind, info = _insert_query(batch.pk, fn(params or {})), source, dict(params or {})
        if count == 0:
            raise DomainError(_("No registered resident matches: nothing to award."), code="no_targets",
                              fields={"targets": [_("Nobody found.")]})
        if count > MAX_TARGETS:
            raise DomainError(_("At most %(n)d residents in one batch.") % {"n": MAX_TARGETS},
                              fields={"targets": [_("Too many.")]})
        if not has_role(user, Role.DISTRICT_ADMIN) and targets_outside_scope(user, batch, services.POSTER_ROLES):
            raise NotAllowed(_("Some of these residents do not live in your area."), code="out_of_scope")
        Batch.objects.filter(pk=batch.pk).update(target_source=kind, target_params=info, target_count=count,
                                                 unknown_count=unknown)
        batch.refresh_from_db()
        audit.record(actor=user, action="points.batch.create", target=batch,
                     after={"rule": version.rule.code, "points": points, "targets": count, "unknown": unknown,
                            "source": kind})
        if needs_committee:
            Proposal.objects.create(kind=Proposal.Kind.BATCH, rule_id=version.rule_id, rule_version=version,
                                    batch=batch, points=points, occurred_on=day, reason=reason, evidence=evidence,
                                    quorum=int(cfg["committee_quorum"]), proposed_by=user)
        elif background:
            transaction.on_commit(lambda: queue_batch(batch.pk))
    if not needs_committee and not background:
        run_batch(batch_id=batch.pk)
        batch.refresh_from_db()
    return idempotency.mark(batch, created=True)


def start_approved(batch: Batch, *, approver, background: bool = True) -> Batch:
    """The committee approved the batch's proposal (inside that transaction): queue it, posting under
    the rule version in force now."""
    batch = Batch.objects.select_for_update().get(pk=batch.pk)
    if batch.status != Batch.Status.AWAITING:
        raise Conflict(_("This batch is not waiting for approval."), code="wrong_status")
    version = services.current_version(batch.rule_id)
    services.check_posting(version=version, points=batch.points, occurred_on=batch.occurred_on,
                           evidence=batch.evidence)
    batch.status, batch.rule_version, batch.approved_by = Batch.Status.QUEUED, version, approver
    batch.save(update_fields=["status", "rule_version", "approved_by", "updated_at"])
    if background:
        transaction.on_commit(lambda: queue_batch(batch.pk))
    return batch


def reject_batch(batch: Batch, *, reason: str) -> None:
    Batch.objects.filter(pk=batch.pk, status=Batch.Status.AWAITING).update(
        status=Batch.Status.REJECTED, error=reason[:2000], updated_at=timezone.now())


def retry_batch(*, actor, batch: Batch, background: bool = True) -> Batch:
    """Start a failed batch again; it continues after the last committed chunk. Who may, and when:
    ``selectors.retry_refusal``, the one rule the page also asks."""
    user = services._user(actor)
    with transaction.atomic():
        batch = Batch.objects.select_for_update().get(pk=batch.pk)
        refusal = batch_selectors.retry_refusal(user, batch)
        if refusal is not None:
            raise refusal
        batch.status, batch.error = Batch.Status.QUEUED, ""
        batch.save(update_fields=["status", "error", "updated_at"])
        audit.record(actor=user, action="points.batch.retry", target=batch, after={"done": batch.progress_done})
        if background:
            transaction.on_commit(lambda: queue_batch(batch.pk))
    if not background:
        run_batch(batch_id=batch.pk)
        batch.refresh_from_db()
    return batch


def queue_batch(batch_id: int) -> None:
    """Off the request path, by task name (kernel.jobs); broker down: the periodic resume picks it up."""
    jobs.queue("modules.points.tasks.run_batch", batch_id)


# --- running ------------------------------------------------------------------------------------------

def _failure(exc: BaseException) -> str:
    return (_("Something went wrong and it has been logged (%(kind)s); start it again to continue.")
            % {"kind": type(exc).__name__})


def run_batch(*, batch_id: int) -> Batch | None:
    """Post what the batch has not posted yet (kernel.jobs runs it). Safe to call again at any point."""
    return jobs.run(BATCHES, batch_id)


def _post_all(batch: Batch) -> None:
    version = RuleVersion.objects.select_related("rule").get(pk=batch.rule_version_id)
    done = batch.progress_done
    while done < batch.target_count:
        hi = min(done + batch.chunk_size, batch.target_count)
        with transaction.atomic():
            now = timezone.now()
            with connection.cursor() as cursor:
                seen, posted = _post_chunk(cursor, batch=batch, version=version, lo=done, hi=hi, now=now)
            Batch.objects.filter(pk=batch.pk).update(
                progress_done=hi, posted_count=F("posted_count") + posted,
                skipped_count=F("skipped_count") + (seen - posted), updated_at=now)
        done = hi
    with transaction.atomic():
        batch = Batch.objects.select_for_update().get(pk=batch.pk)
        batch.status, batch.finished_at = Batch.Status.DONE, timezone.now()
        batch.save(update_fields=["status", "finished_at", "updated_at"])
        audit.record(actor=None, action="points.batch.done", target=batch,
                     after={"posted": batch.posted_count, "skipped": batch.skipped_count,
                            "targets": batch.target_count})
        events.publish("points.batch_done", {"batch_id": batch.pk, "posted": batch.posted_count,
                                             "skipped": batch.skipped_count})


def _post_chunk(cursor, *, batch: Batch, version: RuleVersion, lo: int, hi: int, now) -> tuple[int, int]:
    """Post targets ``lo <= seq < hi`` in one statement; returns (targets seen, entries posted)."""
    entry, balance, target = Entry._meta.db_table, Balance._meta.db_table, BatchTarget._meta.db_table
    params = {"batch": batch.pk, "lo": lo, "hi": hi, "rule": version.rule_id, "version": version.pk,
              "kind": version.kind, "points": batch.points, "day": batch.occurred_on, "reason": batch.reason,
              "evidence": batch.evidence, "source": SourceKind.BATCH.value, "posted_by": batch.created_by_id,
              "approved_by": batch.approved_by_id, "now": now, "prefix": f"batch:{batch.pk}:"}
    cap_filter, used = "", ""
    if version.cap_period:
        # Caps hold under concurrency: lock the chunk's balance rows (in order) before counting.
        cursor.execute(
            f"INSERT INTO {balance} (resident_id, kind, points, entries, updated_at) "  # noqa: S608
            f"SELECT resident_id, %(kind)s, 0, 0, %(now)s FROM {target} "
            "WHERE batch_id = %(batch)s AND seq >= %(lo)s AND seq < %(hi)s ORDER BY resident_id "
            "ON CONFLICT (resident_id, kind) DO NOTHING", params)
        cursor.execute(
            f"SELECT b.id FROM {balance} b JOIN {target} t ON t.resident_id = b.resident_id "  # noqa: S608
            "WHERE t.batch_id = %(batch)s AND t.seq >= %(lo)s AND t.seq < %(hi)s AND b.kind = %(kind)s "
            "ORDER BY b.resident_id FOR UPDATE OF b", params)
        params["from"], params["to"] = services.period_bounds(version.cap_period, batch.occurred_on)
        used = f""", used AS (
            SELECT e.resident_id,
                   count(*) FILTER (WHERE e.reverses_id IS NULL) - count(*) FILTER (WHERE e.reverses_id IS NOT NULL) AS n,
                   coalesce(sum(e.points), 0) AS pts
            FROM {entry} e JOIN t ON t.resident_id = e.resident_id
            WHERE e.rule_id = %(rule)s AND e.occurred_on >= %(from)s AND e.occurred_on < %(to)s
            GROUP BY e.resident_id)"""
        conditions = []
        if version.cap_count:
            params["cap_count"] = version.cap_count
            conditions.append("coalesce(u.n, 0) + 1 <= %(cap_count)s")
        if version.cap_points:
            params["cap_points"] = version.cap_points
            conditions.append("abs(coalesce(u.pts, 0) + %(points)s) <= %(cap_points)s")
        cap_filter = "LEFT JOIN used u ON u.resident_id = t.resident_id WHERE " + " AND ".join(conditions or ["true"])
    cursor.execute(f"""
        WITH t AS (
            SELECT resident_id FROM {target} WHERE batch_id = %(batch)s AND seq >= %(lo)s AND seq < %(hi)s
        ){used}, ins AS (
            INSERT INTO {entry} (resident_id, rule_id, rule_version_id, kind, points, occurred_on, reason, evidence,
                                 evidence_file, source_kind, source_id, posted_by_id, approved_by_id, posted_at,
                                 idempotency_key, reverses_id)
            SELECT t.resident_id, %(rule)s, %(version)s, %(kind)s, %(points)s, %(day)s, %(reason)s, %(evidence)s, '',
                   %(source)s, %(batch)s, %(posted_by)s, %(approved_by)s, %(now)s,
                   %(prefix)s::text || t.resident_id::text, NULL
            FROM t {cap_filter}
            ORDER BY t.resident_id
            ON CONFLICT (idempotency_key) DO NOTHING
            RETURNING resident_id, points
        ), bal AS (
            INSERT INTO {balance} (resident_id, kind, points, entries, updated_at)
            SELECT resident_id, %(kind)s, sum(points), count(*), %(now)s FROM ins GROUP BY resident_id
            ORDER BY resident_id
            ON CONFLICT (resident_id, kind) DO UPDATE SET points = {balance}.points + EXCLUDED.points,
                entries = {balance}.entries + EXCLUDED.entries, updated_at = EXCLUDED.updated_at
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM t), (SELECT count(*) FROM ins), (SELECT count(*) FROM bal)
    """, params)  # noqa: S608 - table names from _meta
    seen, posted, balances = cursor.fetchone()
    assert posted == balances, "every posted resident has their balance updated"
    return seen, posted


BATCHES = jobs.JobKind(lock="points-batch", model=Batch, task="modules.points.tasks.run_batch", work=_post_all,
                       failure=_failure)


def stalled_batches(stale_seconds: int | None = None) -> list[int]:
    """Batches that nobody is running now although they should be (kernel.jobs.to_resume): running
    ones whose heartbeat is older than ``stale_seconds`` (default jobs.JOB_STALE_SECONDS: their worker
    died), and queued ones untouched for ``stale_seconds`` (default jobs.QUEUED_STALE_SECONDS: their
    task was lost with the broker). A batch whose lock is held is running somewhere and is left alone."""
    return jobs.to_resume(BATCHES, stale_seconds=stale_seconds, queued_seconds=stale_seconds)


def resume_stalled(stale_seconds: int | None = None) -> list[int]:
    """Queue stalled batches again. (The residents hear of a finished batch through its
    ``points.batch_done`` event: the outbox never loses it.)"""
    found = stalled_batches(stale_seconds)
    for batch_id in found:
        queue_batch(batch_id)
    return found
