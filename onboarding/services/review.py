"""Platform staff's writes: send an application back with comments, approve it (which records a
provisioning run and queues it, in the same transaction), retry a failed run. Ops only: the pages
and the API check the role; the services check the state."""
from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kernel import audit, jobs
from kernel.errors import Conflict
from kernel.lifecycle_hooks import provisioning_steps
from onboarding.models import Application, Comment, ProvisioningRun, ProvisioningStep
from onboarding.services import rules
from onboarding.services.applications import clean_comment
from tenants.services import require_reason

RUN_TASK = "onboarding.tasks.provision"


def return_application(*, actor, application: Application, comment: str) -> Application:
    """Send a submitted application back to its vendor with what to change (the first comment of the
    round); the vendor edits, answers and resubmits."""
    body = clean_comment(comment)
    with transaction.atomic():
        application = Application.objects.select_for_update().get(pk=application.pk)
        if not application.in_review:
            raise Conflict(_("Only a submitted application can be sent back."), code="bad_transition")
        before = application.state
        application.state = Application.State.RETURNED
        application.decided_at, application.decided_by = timezone.now(), actor
        application.save(update_fields=["state", "decided_at", "decided_by", "updated_at"])
        Comment.objects.create(application=application, author=actor, author_kind=Comment.Kind.STAFF, body=body)
        audit.record(actor=actor, action="onboarding.application.return", target=application,
                     before={"state": before}, after={"state": application.state})
    return application


def _add_steps(run: ProvisioningRun) -> None:
    """One row per registered step (steps registered after the run was made are added on a retry)."""
    have = set(run.steps.values_list("key", flat=True))
    ProvisioningStep.objects.bulk_create([
        ProvisioningStep(run=run, key=s.key, order=s.order, label_zh=s.label_zh, label_en=s.label_en)
        for s in provisioning_steps() if s.key not in have])


def approve_application(*, actor, application: Application, reason: str) -> ProvisioningRun:
    """Approve (with a reason, audit-logged): the provisioning run and its steps are recorded in this
    transaction and queued once it commits (a broker that is down leaves the run queued; the sweep
    takes it)."""
    reason = require_reason(reason)
    with transaction.atomic():
        application = Application.objects.select_for_update().get(pk=application.pk)
        if not application.in_review:
            raise Conflict(_("Only a submitted application can be approved."), code="bad_transition")
        rules.check_free(application.slug, application.domain, exclude_pk=application.pk)
        before = application.state
        application.state = Application.State.APPROVED
        application.decided_at, application.decided_by = timezone.now(), actor
        application.save(update_fields=["state", "decided_at", "decided_by", "updated_at"])
        run = ProvisioningRun.objects.create(application=application, actor=actor)
        _add_steps(run)
        audit.record(actor=actor, action="onboarding.application.approve", target=application,
                     before={"state": before}, after={"state": application.state, "reason": reason, "run": run.pk})
        jobs.queue(RUN_TASK, run.pk)
    return run


def retry_run(*, actor, run: ProvisioningRun, reason: str = "") -> ProvisioningRun:
    """Queue a failed run again: its done steps are skipped, the failed one runs again."""
    with transaction.atomic():
        run = ProvisioningRun.objects.select_for_update().get(pk=run.pk)
        if run.status != ProvisioningRun.Status.FAILED:
            raise Conflict(_("Only a failed provisioning run can be retried."), code="bad_transition")
        run.status, run.error, run.finished_at = ProvisioningRun.Status.QUEUED, "", None
        run.save(update_fields=["status", "error", "finished_at", "updated_at"])
        run.steps.filter(state__in=[ProvisioningStep.State.FAILED, ProvisioningStep.State.RUNNING]).update(
            state=ProvisioningStep.State.PENDING, error="")
        _add_steps(run)
        Application.objects.filter(pk=run.application_id).update(state=Application.State.APPROVED,
                                                                updated_at=timezone.now())
        audit.record(actor=actor, action="onboarding.run.retry", target=run,
                     after={"application": run.application_id, "reason": (reason or "").strip()[:500]})
        jobs.queue(RUN_TASK, run.pk)
    return run
