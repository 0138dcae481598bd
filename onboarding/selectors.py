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
            "state_label": application.get_state_display(), "district": None, "domain": None, "invite_url": None,
            "run": None}
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
                   "seconds": s.seconds, "error": s.error, "attempts": s.attempts,
                   "result": {k: v for k, v in (s.result or {}).items() if not k.endswith("_encrypted")}}
                  for s in steps],
    }
    data["invite_url"] = _open_invitation(application, steps)
    return data


def _open_invitation(application: Application, steps) -> str | None:
    """The administrator's invitation link the ``admin_invite`` step made, while the administrator has
    not used it (set a password) yet: the vendor passes it on."""
    from django.db import connection
    from django_tenants.utils import tenant_context

    from accounts.invitations import reveal

    step = next((s for s in steps if s.key == "admin_invite" and s.state == "done"), None)
    url = reveal(step.result) if step is not None else ""
    if not url or application.district is None or not application.district.is_serving:
        return None
    with tenant_context(application.district):
        from django.contrib.auth import get_user_model

        admin = get_user_model().objects.filter(pk=(step.result or {}).get("user_id")).first()
        unused = admin is not None and not admin.has_usable_password()
    connection.set_schema_to_public()
    return url if unused else None
