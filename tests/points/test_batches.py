"""Award batches in this process (the Celery task runs ``batches.run_batch``): targets from ids, ID
numbers or a place, the committee, set-based posting with caps, resume after a crash without
posting anyone twice, re-runs that post nothing, SMS after the batch."""
import datetime as dt

import pytest
from django.db.models import Count
from django.utils import timezone

from kernel.errors import Conflict, DomainError, NotAllowed
from kernel.locks import lock_key
from kernel.models import AuditEntry, OutboxEvent
from kernel.sms import MemorySender
from modules.points.batches import selectors as batch_selectors
from modules.points.batches import services as batches
from modules.points.committee import services as proposals
from modules.points.ledger import services as ledger
from modules.points.models import Balance, Batch, Entry, Proposal
from modules.registry import services as registry
from tests.points.conftest import assert_ledger_consistent, id_number, set_points_config

pytestmark = pytest.mark.django_db


def many_residents(w, n, *, household="h2", phones=False):
    out = []
    for i in range(n):
        out.append(registry.register_resident(actor=None, name=f"居民{i}", household=w.places[household],
                                              phone=f"1391234{i:04d}" if phones else None))
    return out


def per_resident(batch):
    return dict(Entry.objects.filter(source_kind="batch", source_id=batch.pk).values("resident_id")
                .annotate(n=Count("id")).values_list("resident_id", "n"))


def approve(w, batch):
    for member in (w.m1, w.m2):
        proposals.approve_proposal(actor=member, proposal=batch.proposal)
    batch.refresh_from_db()
    return batch


def test_a_batch_goes_to_the_committee_then_posts_everyone_once(in_district):
    w = in_district
    people = many_residents(w, 25)
    ids = [p.pk for p in people] + [w.r1.pk, 999_999_999]
    batch = batches.create_batch(actor=w.staff, rule="t_good", points=5, reason="主动参与核酸演练",
                                 title="核酸演练", resident_ids=ids, chunk_size=7, background=False)
    assert batch.status == "awaiting" and batch.target_count == 26 and batch.unknown_count == 1
    assert batch.proposal.kind == "batch" and batch.proposal.status == "pending"
    assert not Entry.objects.exists()
    with pytest.raises(NotAllowed):
        proposals.approve_proposal(actor=w.staff, proposal=batch.proposal)
    batch = approve(w, batch)
    assert batch.status == "queued" and batch.approved_by == w.m2
    batch = batches.run_batch(batch_id=batch.pk)
    assert (batch.status, batch.progress_done, batch.posted_count, batch.skipped_count) == ("done", 26, 26, 0)
    assert set(per_resident(batch).values()) == {1} and len(per_resident(batch)) == 26
    assert Balance.objects.get(resident=w.r1, kind="civic").points == 5
    entry = Entry.objects.filter(source_kind="batch", source_id=batch.pk).first()
    assert (entry.posted_by, entry.approved_by, entry.reason, entry.idempotency_key) == (
        w.staff, w.m2, "主动参与核酸演练", f"batch:{batch.pk}:{entry.resident_id}")
    assert AuditEntry.objects.filter(action="points.batch.done", target_id=str(batch.pk)).count() == 1
    assert OutboxEvent.objects.filter(topic="points.batch_done", payload__batch_id=batch.pk).exists()
    # re-running a finished batch posts nothing
    batches.run_batch(batch_id=batch.pk)
    Batch.objects.filter(pk=batch.pk).update(status="running")  # even as if it had not been marked done
    batch = batches.run_batch(batch_id=batch.pk)
    assert batch.posted_count == 26 and Entry.objects.filter(source_kind="batch").count() == 26
    assert batch_selectors.batch_progress(batch)["percent"] == 100.0


def test_without_the_committee_it_starts_at_once(in_district):
    w = in_district
    set_points_config(batch_needs_committee=False)
    batch = batches.create_batch(actor=w.staff, rule="t_good", points=3, reason="志愿服务", background=False,
                                 resident_ids=[w.r1.pk, w.r2.pk])
    assert batch.status == "done" and batch.posted_count == 2 and not Proposal.objects.filter(batch=batch).exists()
    # a committee rule still needs the committee
    batch = batches.create_batch(actor=w.staff, rule="t_committee", points=20, reason="见义勇为", evidence="通报",
                                 resident_ids=[w.r1.pk], background=False)
    assert batch.status == "awaiting"


def test_targets_by_id_number_and_by_place(in_district):
    w = in_district
    set_points_config(batch_needs_committee=False)
    batch = batches.create_batch(actor=w.admin, rule="t_good", points=2, reason="名单", background=False,
                                 id_numbers=[id_number(1), id_number(3), id_number(99), "not a number"])
    assert (batch.target_count, batch.unknown_count, batch.posted_count) == (2, 2, 2)
    assert set(per_resident(batch)) == {w.r1.pk, w.r3.pk}
    assert id_number(1) not in str(batch.target_params)  # ID numbers are not kept
    batch = batches.create_batch(actor=w.admin, rule="t_good", points=2, reason="小区", background=False,
                                 place={"kind": "compound", "code": "X01"})
    assert set(per_resident(batch)) == {w.r1.pk, w.r2.pk, w.r3.pk}  # h1 and h2 are in X01, h3 is not
    with pytest.raises(DomainError):
        batches.create_batch(actor=w.admin, rule="t_good", points=2, reason="无人", background=False,
                             place={"kind": "compound", "code": "NOPE"})


def test_a_batch_is_checked_against_the_rule_and_the_maker_scope(in_district):
    w = in_district
    with pytest.raises(DomainError) as err:
        batches.create_batch(actor=w.staff, rule="t_good", points=500, reason="x", resident_ids=[w.r1.pk])
    assert err.value.code == "out_of_range"
    with pytest.raises(DomainError) as err:
        batches.create_batch(actor=w.staff, rule="t_litter", points=2, reason="x", resident_ids=[w.r1.pk])
    assert err.value.code == "wrong_sign"
    with pytest.raises(NotAllowed):
        batches.create_batch(actor=w.staff, rule="t_good", points=5, reason="x", resident_ids=[w.r1.pk, w.r4.pk])
    with pytest.raises(NotAllowed):
        batches.create_batch(actor=w.res_user, rule="t_good", points=5, reason="x", resident_ids=[w.r2.pk])
    with pytest.raises(DomainError):
        batches.create_batch(actor=w.staff, rule="t_good", points=5, reason="x", resident_ids=[w.r1.pk],
                             place={"kind": "grid", "code": "G0101"})
    assert not Batch.objects.exists()


def test_a_community_committee_member_approves_only_batches_in_their_community(in_district):
    w = in_district
    batch = batches.create_batch(actor=w.admin, rule="t_good", points=5, reason="x",
                                 resident_ids=[w.r1.pk, w.r4.pk], background=False)
    with pytest.raises(NotAllowed):
        proposals.approve_proposal(actor=w.m_c2, proposal=batch.proposal)
    mine = batches.create_batch(actor=w.admin, rule="t_good", points=5, reason="x", resident_ids=[w.r4.pk],
                                background=False)
    proposals.approve_proposal(actor=w.m_c2, proposal=mine.proposal)


def test_a_rejected_batch_posts_nothing(in_district):
    w = in_district
    batch = batches.create_batch(actor=w.staff, rule="t_good", points=5, reason="x", resident_ids=[w.r1.pk])
    proposals.reject_proposal(actor=w.m1, proposal=batch.proposal, reason="名单有误")
    batch.refresh_from_db()
    assert batch.status == "rejected" and batch.error == "名单有误"
    assert batches.run_batch(batch_id=batch.pk).status == "rejected" and not Entry.objects.exists()


def test_caps_hold_in_a_batch(in_district):
    w = in_district
    set_points_config(batch_needs_committee=False)
    ledger.post_entry(actor=w.staff, resident=w.r1, rule="t_daily", points=2, reason="今天已经有了")
    batch = batches.create_batch(actor=w.staff, rule="t_daily", points=2, reason="批量", chunk_size=2,
                                 resident_ids=[w.r1.pk, w.r2.pk, w.r3.pk], background=False)
    assert (batch.posted_count, batch.skipped_count) == (2, 1)
    assert [r.pk for r in batch_selectors.batch_not_posted(batch)] == [w.r1.pk]
    assert Balance.objects.get(resident=w.r1, kind="civic").points == 2
    yearly = batches.create_batch(actor=w.staff, rule="t_yearly_pts", points=6, reason="一",
                                  resident_ids=[w.r1.pk, w.r2.pk], background=False)
    again = batches.create_batch(actor=w.staff, rule="t_yearly_pts", points=6, reason="二",
                                 resident_ids=[w.r1.pk, w.r2.pk], background=False)
    assert (yearly.posted_count, again.posted_count, again.skipped_count) == (2, 0, 2)


def test_a_crash_halfway_resumes_without_posting_anyone_twice(in_district, monkeypatch):
    w = in_district
    set_points_config(batch_needs_committee=False)
    people = many_residents(w, 20)
    real_chunk, calls = batches._post_chunk, []

    def dies_in_the_third_chunk(cursor, **kw):
        calls.append(1)
        result = real_chunk(cursor, **kw)
        if len(calls) == 3:
            raise SystemExit("worker killed")  # after the INSERT, before the commit
        return result

    monkeypatch.setattr(batches, "_post_chunk", dies_in_the_third_chunk)
    batch = batches.create_batch(actor=w.staff, rule="t_good", points=5, reason="演练", chunk_size=6,
                                 resident_ids=[p.pk for p in people], background=True)
    with pytest.raises(SystemExit):
        batches.run_batch(batch_id=batch.pk)
    batch.refresh_from_db()
    assert (batch.status, batch.progress_done, batch.posted_count) == ("running", 12, 12)
    assert len(per_resident(batch)) == 12
    assert_ledger_consistent()
    batch = batches.run_batch(batch_id=batch.pk)  # the redelivered task
    assert (batch.status, batch.progress_done, batch.posted_count, batch.skipped_count) == ("done", 20, 20, 0)
    assert len(per_resident(batch)) == 20 and set(per_resident(batch).values()) == {1}


def test_a_failed_batch_says_so_and_starts_again_where_it_stopped(in_district, monkeypatch):
    w = in_district
    set_points_config(batch_needs_committee=False)
    people = many_residents(w, 9)
    real_chunk, calls = batches._post_chunk, []

    def fails_once(cursor, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("database went away")
        return real_chunk(cursor, **kw)

    monkeypatch.setattr(batches, "_post_chunk", fails_once)
    batch = batches.create_batch(actor=w.staff, rule="t_good", points=5, reason="x", chunk_size=4,
                                 resident_ids=[p.pk for p in people], background=False)
    assert batch.status == "failed" and batch.progress_done == 4 and "RuntimeError" in batch.error
    assert "database" not in batch.error
    with pytest.raises(NotAllowed):
        batches.retry_batch(actor=w.gw1, batch=batch, background=False)
    batch = batches.retry_batch(actor=w.staff, batch=batch, background=False)
    assert batch.status == "done" and batch.posted_count == 9 and len(per_resident(batch)) == 9
    with pytest.raises(Conflict):
        batches.retry_batch(actor=w.staff, batch=batch, background=False)


def test_retry_batch_enforces_the_rule_the_page_asks(in_district, monkeypatch):
    """One rule: the service raises whatever ``selectors.retry_refusal`` says, so a change to the rule
    (here: nobody may start a batch again) reaches the service and the page alike."""
    w = in_district
    set_points_config(batch_needs_committee=False)
    batch = batches.create_batch(actor=w.staff, rule="t_good", points=5, reason="x", resident_ids=[w.r1.pk])
    Batch.objects.filter(pk=batch.pk).update(status="failed", error="RuntimeError")
    asked = []

    def nobody(user, b):
        asked.append((user.pk, b.status))
        return Conflict("closed for the day", code="closed")

    monkeypatch.setattr(batch_selectors, "retry_refusal", nobody)
    with pytest.raises(Conflict) as refused:
        batches.retry_batch(actor=w.staff, batch=batch, background=False)
    assert refused.value.code == "closed" and asked == [(w.staff.pk, "failed")]
    assert Batch.objects.get(pk=batch.pk).status == "failed"


def test_a_stalled_batch_is_found_for_the_periodic_resume(in_district):
    w = in_district
    set_points_config(batch_needs_committee=False)
    batch = batches.create_batch(actor=w.staff, rule="t_good", points=5, reason="x", resident_ids=[w.r1.pk])
    assert batch.status == "queued"
    assert batches.stalled_batches(stale_seconds=600) == []
    Batch.objects.filter(pk=batch.pk).update(status="running",
                                             updated_at=timezone.now() - dt.timedelta(minutes=11))
    assert batches.stalled_batches(stale_seconds=600) == [batch.pk]
    from django.db import connections

    other = connections.create_connection("default")  # a worker that is running the batch right now
    try:
        other.set_schema(w.district.schema_name)
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [lock_key("points-batch", batch.pk)])
            assert cursor.fetchone()[0] is True
        assert batches.stalled_batches(stale_seconds=600) == []
    finally:
        other.close()
    assert batches.stalled_batches(stale_seconds=600) == [batch.pk]


class _WorkerDied(BaseException):
    """The worker process dying mid-batch: nothing of it runs on (not an error the batch can record)."""


def test_a_batch_whose_heartbeat_stopped_is_resumed_within_a_minute_and_a_slow_one_is_not(in_district, monkeypatch):
    from kernel import jobs

    w = in_district
    set_points_config(batch_needs_committee=False)
    people = many_residents(w, 9)
    batch = batches.create_batch(actor=w.staff, rule="t_good", points=5, reason="x", chunk_size=2,
                                 resident_ids=[p.pk for p in people])
    real_chunk, chunks = batches._post_chunk, []

    def dies_in_the_third_chunk(cursor, **kwargs):
        chunks.append(kwargs["lo"])
        if len(chunks) == 3:
            raise _WorkerDied
        return real_chunk(cursor, **kwargs)

    monkeypatch.setattr(batches, "_post_chunk", dies_in_the_third_chunk)
    with pytest.raises(_WorkerDied):
        batches.run_batch(batch_id=batch.pk)
    monkeypatch.setattr(batches, "_post_chunk", real_chunk)
    batch.refresh_from_db()
    assert (batch.status, batch.progress_done, len(per_resident(batch))) == ("running", 4, 4)
    assert batch.heartbeat_at is not None
    # Alive but slow: its progress has not moved for 20 minutes, its heartbeat is fresh. Left alone.
    Batch.objects.filter(pk=batch.pk).update(updated_at=timezone.now() - dt.timedelta(minutes=20))
    assert batches.resume_stalled() == []
    # Its worker died: the heartbeat stopped a little over a minute ago. The sweep takes it over.
    Batch.objects.filter(pk=batch.pk).update(
        heartbeat_at=timezone.now() - dt.timedelta(seconds=jobs.JOB_STALE_SECONDS + 5))
    monkeypatch.setattr(batches, "queue_batch", lambda batch_id: batches.run_batch(batch_id=batch_id))
    assert batches.resume_stalled() == [batch.pk]
    batch.refresh_from_db()
    assert (batch.status, batch.progress_done, batch.posted_count) == ("done", 9, 9)
    assert per_resident(batch) == {p.pk: 1 for p in people}  # nobody twice
    assert_ledger_consistent()
    assert batches.resume_stalled() == []


def test_each_resident_is_texted_once_after_the_batch(in_district):
    from kernel.events import relay_pending
    from kernel.models import HandledEvent, OutboxEvent
    from notifications.services import deliver_due

    w = in_district
    set_points_config(batch_needs_committee=False)
    people = many_residents(w, 7, phones=True)
    batch = batches.create_batch(actor=w.staff, rule="t_good", points=5, reason="参与核酸演练",
                                 resident_ids=[p.pk for p in people] + [w.r2.pk], background=False)
    relay_pending()
    done = OutboxEvent.objects.get(topic="points.batch_done", payload__batch_id=batch.pk)
    HandledEvent.objects.filter(event=done).delete()  # the relay runs the handler a second time
    OutboxEvent.objects.filter(pk=done.pk).update(delivered_at=None)
    relay_pending()
    assert deliver_due() == 7  # r2 has no phone
    assert len(MemorySender.outbox) == 7 and len({p for p, _t in MemorySender.outbox}) == 7
    assert all("参与核酸演练" in text and "5" in text for _p, text in MemorySender.outbox)
    assert deliver_due() == 0  # sent already: nothing again
    from modules.points.batches.selectors import batch_progress

    shown = batch_progress(batch)  # the batch page and the API count the notification service's texts
    assert (shown["sms_sent"], shown["sms_failed"]) == (7, 0)
    set_points_config(sms_on_award=False)
    MemorySender.outbox.clear()
    batches.create_batch(actor=w.staff, rule="t_good", points=5, reason="不发短信",
                         resident_ids=[p.pk for p in people], background=False)
    relay_pending()
    deliver_due()
    assert MemorySender.outbox == []


def test_another_module_offers_its_own_source_of_residents(in_district, monkeypatch):
    """The hook the participation module uses for a drive's attendees ("everyone who joined drill X")."""
    from modules.registry.models import Resident

    w = in_district
    set_points_config(batch_needs_committee=False)
    monkeypatch.setattr(batches, "_sources", dict(batches._sources))  # this test's registration only
    attendees = {"D1": [w.r1.pk, w.r3.pk]}
    batches.register_target_source(
        "drill_attendees", lambda params: Resident.objects.filter(pk__in=attendees.get(params.get("drill"), [])))
    batch = batches.create_batch(actor=w.staff, rule="t_good", points=5, reason="参加消防演练",
                                 source="drill_attendees", params={"drill": "D1"}, background=False)
    assert (batch.status, batch.target_source, batch.target_params, batch.target_count) == (
        "done", "drill_attendees", {"drill": "D1"}, 2)
    assert set(Entry.objects.filter(source_kind="batch", source_id=batch.pk).values_list("resident_id", flat=True)) \
        == {w.r1.pk, w.r3.pk}
    with pytest.raises(DomainError) as nobody:
        batches.create_batch(actor=w.staff, rule="t_good", points=5, reason="无人", source="drill_attendees",
                             params={"drill": "D9"}, background=False)
    assert nobody.value.code == "no_targets"
    with pytest.raises(DomainError):
        batches.create_batch(actor=w.staff, rule="t_good", points=5, reason="x", source="nope", background=False)
    assert_ledger_consistent()
