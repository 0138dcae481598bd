"""The kernel's job runner (kernel.jobs) on a job kind of its own, over a real job table (the registry's
data-check runs) in a real district: a job that fails says so in words, a job queued while the broker
refuses connections stays queued and the sweep runs it, a dead job is taken over, and a job whose
lock another runner holds is not run twice."""
import datetime as dt

import pytest
from celery import shared_task
from django.db import connection, connections
from django.utils import timezone
from django_tenants.utils import tenant_context

from kernel import jobs
from kernel.locks import lock_key
from kernel.models import AuditEntry
from modules.registry.models import AuditRun
from tests.broker import refusing_broker

TASK = "tests.platform_tests.test_jobs.run_test_job"
done: list[int] = []


@shared_task(name=TASK)
def run_test_job(job_id: int) -> None:
    """The kind's task: what a module's tasks.py holds (kicked by name; eager in these tests)."""
    jobs.run(KIND, job_id)


def _work(job) -> None:
    done.append(job.pk)
    AuditRun.objects.filter(pk=job.pk).update(status=AuditRun.Status.DONE, finished_at=timezone.now())


def _fails(job) -> None:
    raise RuntimeError("secret detail of the database")


KIND = jobs.JobKind(lock="test-job", model=AuditRun, task=TASK, work=_work, queued_since="created_at")
FAILING = jobs.JobKind(lock="test-job", model=AuditRun, task=TASK, work=_fails, failed_action="test.job.failed",
                       failure=lambda exc: f"测试任务出错。The test job failed ({type(exc).__name__}).")


@pytest.fixture
def district(kangbashi):
    done.clear()
    with tenant_context(kangbashi):
        yield kangbashi
    connection.set_schema_to_public()


@pytest.fixture
def eager(monkeypatch):
    from config.celery import app

    monkeypatch.setitem(app.conf, "task_always_eager", True)


def test_a_job_runs_once_and_a_finished_job_is_left_alone(district):
    job = AuditRun.objects.create()
    ran = jobs.run(KIND, job.pk)
    assert ran.status == "done" and done == [job.pk]
    assert ran.started_at is not None and ran.heartbeat_at is not None
    assert jobs.run(KIND, job.pk).status == "done" and done == [job.pk]  # a late delivery does nothing


def test_a_job_that_fails_is_failed_with_its_message_in_words(district):
    job = AuditRun.objects.create()
    failed = jobs.run(FAILING, job.pk)
    assert failed.status == "failed" and failed.finished_at is not None
    assert failed.error == "测试任务出错。The test job failed (RuntimeError)."
    assert "secret" not in failed.error  # the exception's own text is logged, never shown
    assert AuditEntry.objects.filter(action="test.job.failed", target_id=str(job.pk)).count() == 1
    assert jobs.run(FAILING, job.pk).status == "failed"  # failed stays failed until a service queues it again
    plain = jobs.JobKind(lock="test-job", model=AuditRun, task=TASK, work=_fails)  # the default words
    other = jobs.run(plain, AuditRun.objects.create().pk)
    assert other.status == "failed" and "Something went wrong" in other.error and "secret" not in other.error


def test_a_job_whose_worker_died_keeps_running_state_and_is_taken_over(district, eager):
    job = AuditRun.objects.create()

    class Killed(BaseException):
        pass

    def dies(j):
        raise Killed  # the process going away: not an error the job can record

    with pytest.raises(Killed):
        jobs.run(jobs.JobKind(lock="test-job", model=AuditRun, task=TASK, work=dies), job.pk)
    job.refresh_from_db()
    assert job.status == "running" and job.heartbeat_at is not None
    assert jobs.to_resume(KIND) == []  # it beat just now: taken for alive
    AuditRun.objects.filter(pk=job.pk).update(
        heartbeat_at=timezone.now() - dt.timedelta(seconds=jobs.JOB_STALE_SECONDS + 5))
    assert jobs.to_resume(KIND) == [job.pk]
    # the sweep kicks the kind's task (eager here: run at once), which finishes it
    assert jobs.resume(KIND) == [job.pk]
    with tenant_context(district):
        job.refresh_from_db()
        assert job.status == "done" and done == [job.pk]
        assert jobs.to_resume(KIND) == []


def test_two_runners_never_run_one_job_at_once(district):
    job = AuditRun.objects.create()
    AuditRun.objects.filter(pk=job.pk).update(
        status="running", heartbeat_at=timezone.now() - dt.timedelta(seconds=jobs.JOB_STALE_SECONDS + 5))
    other = connections.create_connection("default")  # another worker, running the job now
    try:
        other.set_schema(district.schema_name)
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [lock_key("test-job", job.pk)])
            assert cursor.fetchone()[0] is True
        assert jobs.run(KIND, job.pk) is None and done == []  # the second runner finds it taken
        assert jobs.to_resume(KIND) == []  # its beat is old, but its lock is held: slow, not dead
    finally:
        other.close()  # that worker is gone: its lock goes with its session
    assert jobs.to_resume(KIND) == [job.pk]
    assert jobs.run(KIND, job.pk).status == "done" and done == [job.pk]


def test_a_job_queued_while_the_broker_refuses_stays_queued_and_the_sweep_runs_it(
        district, monkeypatch, django_capture_on_commit_callbacks):
    from django.db import transaction

    with refusing_broker(monkeypatch):
        with django_capture_on_commit_callbacks(execute=True):
            with transaction.atomic():
                job = AuditRun.objects.create()
                jobs.queue(TASK, job.pk)
    job.refresh_from_db()
    assert job.status == "queued" and not job.error
    assert jobs.to_resume(KIND) == []  # queued a moment ago: its task may be on its way
    AuditRun.objects.filter(pk=job.pk).update(
        created_at=timezone.now() - dt.timedelta(seconds=jobs.QUEUED_STALE_SECONDS + 5))
    assert jobs.to_resume(KIND) == [job.pk]
    from config.celery import app

    monkeypatch.setitem(app.conf, "task_always_eager", True)
    assert jobs.resume(KIND) == [job.pk]
    with tenant_context(district):
        job.refresh_from_db()
        assert job.status == "done" and done == [job.pk]
