"""Reads of onboarding: who sees which applications, the review queue, a run's progress."""
from __future__ import annotations

from django.db.models import QuerySet

from onboarding.models import Application, ProvisioningRun
from tenants.access import OPS, has_platform_role, vendor_ids


def applications_for(user) -> QuerySet:
    """Every application for platform staff (ops); a vendor's people see their vendor's only; anyone
    else (finance included) none. Pages and API look rows up in this, so others' are 404."""
    qs = Application.objects.select_related("vendor", "district", "source_district")
    if has_platform_role(user, OPS):
        return qs
    ids = vendor_ids(user)
    return qs.filter(vendor_id__in=list(ids)) if ids else qs.none()


def review_queue() -> QuerySet:
    """Applications waiting for staff, oldest submission first."""
    return (Application.objects.filter(state__in=Application.IN_REVIEW).select_related("vendor")
            .order_by("submitted_at", "id"))


def latest_run(application: Application) -> ProvisioningRun | None:
    return application.runs.order_by("-created_at", "-id").first()


def progress(application: Application, *, english: bool = False) -> dict:
    """The provisioning of ``application`` as the progress page and the API show it."""
    run = latest_run(application)
    data = {"application": application.pk, "state": application.state,
            "state_label": application.get_state_display(), "district": None, "domain": None, "run": None}
    if application.district_id:
        data["district"] = application.district.slug
        data["domain"] = application.domain
    if run is None:
        return data
    steps = list(run.steps.order_by("order", "key"))
    data["run"] = {
        "id": run.pk, "status": run.status, "status_label": run.get_status_display(), "error": run.error, "attempts": run.attempts,
        "created_at": run.created_at, "started_at": run.started_at, "finished_at": run.finished_at,
        "done": sum(1 for s in steps if s.state == "done"), "total": len(steps),
        "steps": [{"key": s.key, "label": s.label_en if english else s.label_zh, "state": s.state,
                   "state_label": s.get_state_display(), "started_at": s.started_at, "finished_at": s.finished_at,
                   "seconds": s.seconds, "result": s.result, "error": s.error, "attempts": s.attempts}
                  for s in steps],
    }
    return data
