"""A 20,000-resident award batch (the report's 19,747 residents +5), end to end: worker seconds (goal < 2 s).

Run: ``.venv/bin/python bench/points_batch.py`` (``BENCH_RESIDENTS=20000``).

In a throwaway district (``create_district(use_pool=False)``, modules registry + points, dropped at
the end): ``BENCH_RESIDENTS`` residents with encrypted phone numbers (bulk insert, not timed), a
points rule "took part in the drill" (+5…+5) and two committee members. Timed in this process through
the services the API and the Celery task call (queueing to the broker is switched off, so a developer's
worker does not run the batch too):

- create: ``batches.create_batch(resident_ids=…)`` — the 20,000 targets numbered with one INSERT … SELECT,
  the proposal for the committee;
- approve: two committee members approve (maker–checker, quorum 2);
- worker: ``batches.run_batch`` — what the Celery task runs: chunks of 2,000, each one statement
  (INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING → aggregate UPSERT of the balances) and its
  progress, one transaction per chunk;
- rerun: the same task delivered again (posts nothing);
- capped: a second 20,000 batch under a rule capped once a day, so each chunk first locks its
  balance rows and counts the period's postings;
- messages: the ``points.batch_done`` handler (``notify.on_batch_done``) makes one inbox / SMS message a
  resident through the notification service;
- sms: ``notifications.services.deliver_due`` sends them to the in-memory sender (numbers decrypted).
"""
from __future__ import annotations

import sys
import time

from _support import bench_slug, drop_district, figure, log, quiet_stdout, setup_django, size


def main() -> int:
    n = size(20000, 50, env="BENCH_RESIDENTS")
    setup_django()
    from django.conf import settings
    from django.db import connection, transaction
    from django_tenants.utils import tenant_context

    from accounts.services import create_user
    from kernel.models import OutboxEvent
    from kernel.personal import encrypt
    from kernel.services import assign_role, update_module_config
    from kernel.sms import MemorySender
    from modules.points import notify
    from modules.points.batches import services as batches
    from modules.points.committee import services as proposals
    from modules.points.ledger import rules as rulebook
    from modules.points.ledger import selectors
    from modules.points.ledger import services as ledger
    from modules.points.models import Entry
    from modules.registry.models import Resident
    from notifications import services as notifications
    from tenants.services import AdminSpec, create_district

    settings.SMS_SENDER = "kernel.sms.MemorySender"
    # No broker: the benchmark runs the task bodies itself (a developer's worker must not run them too).
    batches.queue_batch = lambda batch_id: None
    notifications.kick = lambda *args, **kwargs: None
    slug = bench_slug()
    figures = {}
    try:
        with quiet_stdout():
            created = create_district(slug=slug, name_zh="基准区", name_en="Bench", modules=["registry", "points"],
                                      admin=AdminSpec(username="admin", password="bench-pass-123"), use_pool=False)
            district = created.district
            connection.set_schema_to_public()
            log(f"district {slug} ({created.seconds:.1f}s)")
            with tenant_context(district):
                admin = created.admin
                members = []
                for name in ("m1", "m2"):
                    user = create_user(actor=None, username=name, password=None)
                    assign_role(actor=None, user=user, role="committee_member")
                    members.append(user)
                t = time.perf_counter()
                token = encrypt("+8613912345678")  # the same number for all: the cost is decrypting each
                Resident.objects.bulk_create([Resident(name=f"居民{i}", phone_encrypted=token) for i in range(n)],
                                             batch_size=5000)
                ids = list(Resident.objects.order_by("pk").values_list("pk", flat=True))
                log(f"{len(ids)} residents in {time.perf_counter() - t:.1f}s (set-up)")
                rulebook.create_rule(actor=admin, code="drill", name_zh="主动参与核酸演练", direction="add",
                                     category="community", min_points=5, max_points=5, origin="report")
                rulebook.create_rule(actor=admin, code="daily", name_zh="每日一次", direction="add",
                                     category="community", min_points=1, max_points=5, cap_period="day",
                                     cap_count=1)
                with connection.cursor() as cursor:
                    cursor.execute("ANALYZE")

                def approve(batch):
                    for member in members:
                        proposals.approve_proposal(actor=member, proposal=batch.proposal)

                t0 = time.perf_counter()
                batch = batches.create_batch(actor=admin, rule="drill", points=5, reason="主动参与核酸演练",
                                             title="核酸演练", resident_ids=ids)
                t1 = time.perf_counter()
                approve(batch)
                t2 = time.perf_counter()
                done = batches.run_batch(batch_id=batch.pk)
                t3 = time.perf_counter()
                figures["create"], figures["approve"], figures["worker"] = t1 - t0, t2 - t1, t3 - t2
                log(f"create {t1 - t0:.3f}s, approve {t2 - t1:.3f}s, worker {t3 - t2:.3f}s: "
                    f"{done.status} {done.posted_count}/{done.target_count}")
                if done.status != "done" or done.posted_count != n:
                    raise SystemExit(f"the batch did not post everyone: {done.status} {done.posted_count}/{n}")
                t = time.perf_counter()
                batches.Batch.objects.filter(pk=batch.pk).update(status="running")  # a late redelivery, as if
                rerun = batches.run_batch(batch_id=batch.pk)                         # it had not finished
                figures["rerun"] = time.perf_counter() - t
                if rerun.posted_count != n or Entry.objects.filter(source_kind="batch").count() != n:
                    raise SystemExit("the re-run posted again")

                update_module_config(actor=None, module_key="points",
                                     data={**ledger.config(), "batch_needs_committee": False})
                capped = batches.create_batch(actor=admin, rule="daily", points=1, reason="每日", resident_ids=ids,
                                              background=True)
                t = time.perf_counter()
                capped = batches.run_batch(batch_id=capped.pk)
                figures["capped"] = time.perf_counter() - t
                if capped.posted_count != n:
                    raise SystemExit(f"capped batch posted {capped.posted_count}")
                log(f"capped batch {figures['capped']:.3f}s")

                MemorySender.outbox.clear()
                # The forced re-run above published a second batch_done (its status was set back by hand,
                # which a real redelivery cannot do: DONE and the event commit together): time the first.
                event = (OutboxEvent.objects.filter(topic="points.batch_done", payload__batch_id=batch.pk)
                         .order_by("created_at").first())
                t = time.perf_counter()
                with transaction.atomic():
                    notify.on_batch_done(event.payload, event)
                figures["messages"] = time.perf_counter() - t
                t = time.perf_counter()
                sent = 0
                while (done_now := notifications.deliver_due(limit=5000)):
                    sent += done_now
                figures["sms"] = time.perf_counter() - t
                if sent != n or len(MemorySender.outbox) != n:
                    raise SystemExit(f"SMS: {sent} sent of {n}")
                MemorySender.outbox.clear()
                mismatches = selectors.ledger_mismatches()
                if mismatches:
                    raise SystemExit(f"balances differ from their entries: {mismatches[:5]}")
            connection.set_schema_to_public()
    finally:
        with quiet_stdout():
            connection.set_schema_to_public()
            drop_district(slug=slug)
            log(f"dropped {slug}")

    figure("points_batch_worker_seconds", round(figures["worker"], 3), "s", "< 2 s")
    figure("points_batch_entries_per_second", round(n / figures["worker"]), "entries/s")
    figure("points_batch_create_seconds", round(figures["create"], 3), "s")
    figure("points_batch_approve_seconds", round(figures["approve"], 3), "s")
    figure("points_batch_end_to_end_seconds", round(figures["create"] + figures["approve"] + figures["worker"], 3),
           "s")
    figure("points_batch_rerun_seconds", round(figures["rerun"], 3), "s")
    figure("points_batch_capped_worker_seconds", round(figures["capped"], 3), "s")
    figure("points_batch_messages_seconds", round(figures["messages"], 3), "s")
    figure("points_batch_sms_seconds", round(figures["sms"], 3), "s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
