"""A 120-resident batch through real Celery workers: the first worker is killed inside its third
chunk (SIGKILL between INSERT and COMMIT); the periodic resume queues the batch again, a restarted
worker finishes it, and every resident is posted exactly once; sending the finished batch again
posts nothing. Committed for real in the "worker" district (ledger rows are never deleted, so the
names are unique per run)."""
import os
import secrets
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import Count
from django_tenants.utils import tenant_context

from modules.points.batches import services as batches
from modules.points.committee import services as proposals
from modules.points.ledger import rules as rulebook
from modules.points.models import Batch, Entry
from modules.points.tasks import run_batch_task
from tests.conftest import ROOT, _test_database_url, admin_of, make_user, wait_for
from tests.points.conftest import assert_ledger_consistent

QUEUE = f"{settings.CELERY_TASK_DEFAULT_QUEUE}-points-kill"
RESIDENTS, CHUNK = 120, 10


def start_worker(name: str, kill_after: int = 0) -> tuple[subprocess.Popen, object]:
    env = {**os.environ, "DATABASE_URL": _test_database_url(), "MASHANG_TESTING": "1",
           "MASHANG_RUN_DIR": str(settings.RUN_DIR), "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'platform'}",
           "SMS_SENDER": "kernel.sms.ConsoleSender", "POINTS_KILL_AFTER_CHUNKS": str(kill_after or "")}
    log_path = settings.RUN_DIR / f"points-{name}.log"
    log = open(log_path, "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "points" / "kill_switch_worker.py"), "worker", "--pool=solo",
         "--loglevel=INFO", "-Q", QUEUE, "-n", f"points-{name}@%h", "--without-heartbeat", "--without-gossip",
         "--without-mingle"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while time.time() < deadline:
        if "ready." in log_path.read_text(errors="replace"):
            return proc, log
        if proc.poll() is not None:
            raise RuntimeError("worker died on start:\n" + log_path.read_text())
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("worker did not start within 60 s")


def stop(proc, log) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
    log.close()


@pytest.mark.worker
def test_a_killed_worker_resumes_the_batch_without_posting_anyone_twice(django_db_blocker, monkeypatch):
    from modules.registry.models import Resident
    from tenants.models import District

    def to_our_queue(batch_id):  # the task queued after the approval (and by the resume) goes to our workers
        run_batch_task.apply_async(args=[batch_id], queue=QUEUE)

    monkeypatch.setattr(batches, "queue_batch", to_our_queue)
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        district = District.objects.get(slug="worker")
        tag = secrets.token_hex(3)
        admin = admin_of(district)
        m1 = make_user(district, f"pm1-{tag}", "committee_member")
        m2 = make_user(district, f"pm2-{tag}", "committee_member")
        with tenant_context(district):
            people = [Resident.objects.create(name=f"演练{tag}-{i}") for i in range(RESIDENTS)]
            rulebook.create_rule(actor=admin, code=f"t_drill_{tag}", name_zh="参与核酸演练", direction="add",
                                 category="community", min_points=5, max_points=5)
            batch = batches.create_batch(actor=admin, rule=f"t_drill_{tag}", points=5, reason="主动参与核酸演练",
                                         resident_ids=[p.pk for p in people], chunk_size=CHUNK)
            assert batch.status == "awaiting" and batch.target_count == RESIDENTS
        proc, log = start_worker("killed", kill_after=2)
        try:
            with tenant_context(district):
                proposals.approve_proposal(actor=m1, proposal=batch.proposal)
                proposals.approve_proposal(actor=m2, proposal=batch.proposal)  # quorum: queued on commit
            assert proc.wait(90) == -9, "the worker was meant to be killed"
        finally:
            stop(proc, log)

        def state():
            with tenant_context(district):
                b = Batch.objects.get(pk=batch.pk)
                return b, Entry.objects.filter(source_kind="batch", source_id=batch.pk).count()

        killed, posted = state()
        assert killed.status == "running" and killed.progress_done == 2 * CHUNK and posted == 2 * CHUNK
        proc, log = start_worker("restarted")
        try:
            with tenant_context(district):
                assert batches.resume_stalled(stale_seconds=0) == [batch.pk]  # the periodic resume
            assert wait_for(lambda: state()[0].status == "done", timeout=90), state()[0].error
            done, posted = state()
            assert (done.progress_done, done.posted_count, done.skipped_count, posted) == (
                RESIDENTS, RESIDENTS, 0, RESIDENTS)
            with tenant_context(district):
                counts = dict(Entry.objects.filter(source_kind="batch", source_id=batch.pk)
                              .values("resident_id").annotate(n=Count("id")).values_list("resident_id", "n"))
                assert counts == {p.pk: 1 for p in people}
                assert_ledger_consistent()
                run_batch_task.apply_async(args=[batch.pk], queue=QUEUE)  # a late duplicate delivery
            log_path = settings.RUN_DIR / "points-restarted.log"
            assert wait_for(lambda: log_path.read_text().count("succeeded") >= 2, timeout=60)
            again, posted = state()
            assert again.posted_count == RESIDENTS and posted == RESIDENTS
        finally:
            stop(proc, log)
        connection.set_schema_to_public()
