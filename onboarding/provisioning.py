"""Provisioning an approved application as a job on the kernel job runner (kernel.jobs; the shape of
modules/codes/print_runs.py), in the public schema.

A run has one ProvisioningStep row per step registered with ``kernel.lifecycle_hooks.register_step``
(onboarding registers ``district`` 10, ``rules`` 40, ``branding`` 50 in its AppConfig.ready();
accounts adds ``admin_invite`` 70, billing ``billing`` 80). The runner runs them in order; each step
runs in one transaction together with the row that says it is done, so a step is either wholly done
and recorded or not done at all. A step that raises is recorded failed (its error in words), the run
stops there and fails; a retry (``services.review.retry_run``) runs the run again and skips its done
steps. ``create_district`` is all-or-nothing, so a failure never leaves a half-made district.

A step gets the run: ``run.application``, ``run.district`` (once the district step made it) and
``run.actor`` (who approved)."""
from __future__ import annotations

import logging
from types import SimpleNamespace

from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from kernel import audit, jobs
from kernel.errors import DomainError
from kernel.lifecycle_hooks import ProvisioningStep as StepSpec
from kernel.lifecycle_hooks import provisioning_steps, register_step
from onboarding.models import Application, ProvisioningRun, ProvisioningStep
from onboarding.services.review import RUN_TASK, _add_steps

log = logging.getLogger(__name__)


class StepFailed(Exception):
    """A step failed: ``message`` is what the vendor and staff read."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def step_error(exc: BaseException) -> str:
    """A step's failure in words: a domain error says what is wrong; anything else is logged."""
    if isinstance(exc, DomainError):
        return exc.message
    return jobs.failed_message(exc)


def district_actor(run: ProvisioningRun):
    """Who to name in a district's own audit log: the approving platform user by name only (a user
    of the public schema has no row in the district's user table)."""
    name = run.actor.username if run.actor_id else "system"
    return SimpleNamespace(pk=None, username=f"platform:{name}")


def _jsonable(value) -> dict:
    import json

    from django.core.serializers.json import DjangoJSONEncoder

    return json.loads(json.dumps(value or {}, cls=DjangoJSONEncoder))


def _start(run: ProvisioningRun) -> None:
    with transaction.atomic():
        ProvisioningRun.objects.filter(pk=run.pk).update(attempts=F("attempts") + 1)
        _add_steps(run)
        Application.objects.filter(pk=run.application_id).exclude(state=Application.State.PROVISIONED).update(
            state=Application.State.PROVISIONING, updated_at=timezone.now())
        audit.record(actor=None, action="onboarding.run.start", target=run, after={"application": run.application_id})


def _fail_step(run: ProvisioningRun, row: ProvisioningStep, words: str) -> None:
    with transaction.atomic():
        ProvisioningStep.objects.filter(pk=row.pk).update(state=ProvisioningStep.State.FAILED, error=words[:2000],
                                                          finished_at=timezone.now())
        Application.objects.filter(pk=run.application_id).update(state=Application.State.FAILED,
                                                                updated_at=timezone.now())
        audit.record(actor=None, action="onboarding.run.step_failed", target=run,
                     after={"step": row.key, "error": words[:200]})


def _finish(run: ProvisioningRun) -> None:
    with transaction.atomic():
        now = timezone.now()
        ProvisioningRun.objects.filter(pk=run.pk).update(status=ProvisioningRun.Status.DONE, finished_at=now,
                                                         updated_at=now, error="")
        Application.objects.filter(pk=run.application_id).update(state=Application.State.PROVISIONED,
                                                                district=run.district_id, updated_at=now)
        audit.record(actor=None, action="onboarding.run.done", target=run,
                     after={"application": run.application_id, "district": run.district_id})


def _work(job: ProvisioningRun) -> None:
    """The job's work: every step not done yet, in order."""
    connection.set_schema_to_public()
    run = (ProvisioningRun.objects.select_related("application", "application__vendor",
                                                  "application__source_district", "district", "actor")
           .get(pk=job.pk))
    _start(run)
    registered = {s.key: s for s in provisioning_steps()}
    for row in list(run.steps.order_by("order", "key")):
        if row.state == ProvisioningStep.State.DONE:
            continue
        step = registered.get(row.key)
        ProvisioningStep.objects.filter(pk=row.pk).update(state=ProvisioningStep.State.RUNNING,
                                                          started_at=timezone.now(), finished_at=None,
                                                          error="", attempts=F("attempts") + 1)
        try:
            with transaction.atomic():
                result = step.run(run) if step is not None else {"skipped": "no longer registered"}
                connection.set_schema_to_public()
                ProvisioningStep.objects.filter(pk=row.pk).update(
                    state=ProvisioningStep.State.DONE, finished_at=timezone.now(), result=_jsonable(result))
        except Exception as exc:
            connection.set_schema_to_public()
            words = step_error(exc)
            log.exception("provisioning step failed", extra={"step": row.key, "run": run.pk})
            run.district = ProvisioningRun.objects.get(pk=run.pk).district  # the district step's work stays
            _fail_step(run, row, words)
            raise StepFailed(f"{row.label_zh}：{words}") from exc
    _finish(run)


def _failure(exc: BaseException) -> str:
    return exc.message if isinstance(exc, StepFailed) else jobs.failed_message(exc)


RUNS = jobs.JobKind(lock="provisioning-run", model=ProvisioningRun, task=RUN_TASK, work=_work, failure=_failure,
                    failed_action="onboarding.run.failed", queued_since="updated_at")


def provision(run_id: int) -> ProvisioningRun | None:
    """Run a provisioning run here (what the task runs; the bench and tests call it too): the run
    afterwards, or None when another worker holds it."""
    connection.set_schema_to_public()
    return jobs.run(RUNS, run_id)


def resume_runs() -> list[int]:
    """The sweep: runs whose worker died and runs still queued long after approval are queued again."""
    connection.set_schema_to_public()
    return jobs.resume(RUNS)


# --- onboarding's own steps ---------------------------------------------------------------------------

def district_step(run: ProvisioningRun) -> dict:
    """Schema (from the pool), domain, module set and seeded rules, in one all-or-nothing call. Done
    when the run already made its district."""
    from tenants.models import District
    from tenants.services import create_district

    application = run.application
    if run.district_id:
        return {"district": run.district.slug, "already": True}
    existing = District.objects.filter(slug=application.slug).first()
    if existing is not None and application.district_id == existing.pk:
        district = existing
        result = {"district": existing.slug, "already": True}
    else:
        created = create_district(actor=district_actor(run), slug=application.slug, name_zh=application.name_zh,
                                  name_en=application.name_en, modules=application.modules,
                                  domain=application.domain, use_pool=True, vendor=application.vendor, live=False,
                                  seed_template=application.seed_template, admin=None)
        district = created.district
        result = {"district": district.slug, "domain": application.domain, "schema": district.schema_name,
                  "modules": district.modules, "from_pool": created.from_pool, "seconds": round(created.seconds, 3)}
    connection.set_schema_to_public()
    run.district = district
    ProvisioningRun.objects.filter(pk=run.pk).update(district=district, updated_at=timezone.now())
    Application.objects.filter(pk=application.pk).update(district=district)
    application.district = district
    return result


def rules_step(run: ProvisioningRun) -> dict:
    """Copy the source district's module configuration (the version in force of each module the new
    district has), when the vendor chose one; the seed template was applied by the district step."""
    from django_tenants.utils import tenant_context

    from kernel.models import ModuleConfig
    from kernel.selectors import module_config
    from kernel.services import update_module_config

    application = run.application
    source = application.source_district
    if source is None:
        return {"template": application.seed_template, "copied": []}
    with tenant_context(source):
        newest: dict[str, dict] = {}
        for row in ModuleConfig.objects.order_by("module_key", "-version"):
            newest.setdefault(row.module_key, row.data)
    copied = []
    with tenant_context(run.district):
        for key, data in newest.items():
            if not run.district.has_module(key) or module_config(key) == data:
                continue
            update_module_config(actor=district_actor(run), module_key=key, data=data,
                                 note=f"copied from {source.slug}")
            copied.append(key)
    return {"source": source.slug, "copied": copied}


def branding_step(run: ProvisioningRun) -> dict:
    """Titles, colours and the logo the vendor gave (tenants.services.update_branding)."""
    from tenants.services import update_branding

    application = run.application
    logo = None
    if application.logo:
        with application.logo.open("rb") as stored:
            logo = ContentFile(stored.read(), name="logo")
    update_branding(actor=district_actor(run), district=run.district, logo=logo,
                    title_zh=application.title_zh or application.name_zh,
                    title_en=application.title_en or application.name_en,
                    primary_color=application.primary_color, accent_color=application.accent_color)
    return {"logo": bool(logo), "primary_color": application.primary_color}


def register_steps() -> None:
    register_step(StepSpec(key="district", order=10, label_zh="创建辖区（数据库、域名、模块、初始规则）",
                           label_en="District (schema, domain, modules, starting rules)", run=district_step))
    register_step(StepSpec(key="rules", order=40, label_zh="复制规则配置", label_en="Rules copied",
                           run=rules_step))
    register_step(StepSpec(key="branding", order=50, label_zh="品牌外观（标题、颜色、标志）",
                           label_en="Branding (titles, colours, logo)", run=branding_step))

