"""A release run as a job of the kernel job runner (kernel.jobs; copied from modules/codes/print_runs.py).

``services.retry_district`` records a retry QUEUED and queues ``tasks.run_release`` by name; the task
runs ``produce`` (``jobs.run``: the job's advisory lock, running, heartbeat, FAILED in words if it
raises); ``tasks.requeue_releases`` is the sweep. ``migrate_all`` does not go through a worker: it
calls ``services.execute`` in the foreground of the deploy."""
from __future__ import annotations

from kernel import jobs
from kernel.errors import DomainError
from tenants.releases import services
from tenants.releases.models import ReleaseRun


def _work(run: ReleaseRun) -> None:
    from django.db import connection

    try:
        services.execute(run)
    finally:
        connection.set_schema_to_public()  # the runner records the job in the public schema


def _failure(exc: BaseException) -> str:
    if isinstance(exc, DomainError):  # "another release is running": words meant for the operator
        return exc.message
    return jobs.failed_message(exc)


RELEASES = jobs.JobKind(lock="release-run", model=ReleaseRun, task=services.RELEASE_TASK, work=_work,
                        failure=_failure, failed_action="release.failed", queued_since="created_at")


def produce(run: ReleaseRun) -> ReleaseRun | None:
    """Run a queued release here (what the task runs): the run afterwards, None when another runner has it."""
    return jobs.run(RELEASES, run.pk)


def to_requeue() -> list[int]:
    """Retries nobody runs although they should (kernel.jobs.to_resume). Runs of every schema are
    ``migrate_all``'s, in the foreground of a deploy: never taken over by a worker."""
    found = jobs.to_resume(RELEASES)
    return list(ReleaseRun.objects.filter(pk__in=found, kind=ReleaseRun.Kind.RETRY).values_list("pk", flat=True))


def requeue() -> list[int]:
    """The sweep: queue those retries again."""
    from kernel import events

    found = to_requeue()
    for pk in found:
        events.kick(RELEASES.task, args=(pk,))
    return found
