"""Approval -> a recorded, retryable provisioning run -> a district serving its domain, not live yet."""
from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django_tenants.utils import tenant_context

from kernel.lifecycle_hooks import ProvisioningStep as StepSpec
from kernel.lifecycle_hooks import _steps, register_step
from kernel.models import AuditEntry
from onboarding import provisioning
from onboarding.models import ProvisioningRun
from onboarding.selectors import progress
from onboarding.services import approve_application, create_application, retry_run
from tenants.models import District, Domain
from tests.conftest import client_for
from tests.onboarding.conftest import application_data, png_bytes

pytestmark = pytest.mark.django_db


def approved(vendor, vendor_user, ops_user, **changes):
    app = create_application(actor=vendor_user, vendor=vendor, data=application_data(**changes),
                             logo=SimpleUploadedFile("logo.png", png_bytes()), submit=True)
    return app, approve_application(actor=ops_user, application=app, reason="材料齐全")


@pytest.fixture
def counted_steps(monkeypatch):
    """Count how often each registered step runs (the registry is restored afterwards)."""
    calls: dict[str, int] = {}
    registry = dict(_steps)
    for key, spec in registry.items():
        def counting(run, _spec=spec):
            calls[_spec.key] = calls.get(_spec.key, 0) + 1
            return _spec.run(run)

        monkeypatch.setitem(_steps, key, StepSpec(spec.key, spec.order, spec.label_zh, spec.label_en, counting))
    return calls


def test_approval_provisions_a_district_serving_its_domain_not_live(vendor, vendor_user, ops_user, kangbashi,
                                                                    counted_steps):
    from kernel.selectors import module_config
    from kernel.services import update_module_config

    with tenant_context(kangbashi):
        update_module_config(actor=None, module_key="cases", data={**module_config("cases"), "response_hours": 7})
    connection.set_schema_to_public()
    app, run = approved(vendor, vendor_user, ops_user, slug="prov-ok", source_district="kangbashi")
    run = provisioning.provision(run.pk)
    assert run.status == "done", run.error
    app.refresh_from_db()
    district = District.objects.get(slug="prov-ok")
    assert app.state == "provisioned" and app.district == district and run.district == district
    assert district.vendor == vendor and district.live_at is None and district.status == "active"
    assert district.modules == ["registry", "codes", "cases", "notices"]
    assert district.title_zh == "码上新区" and district.primary_color == "#1565c0" and district.logo.name
    assert Domain.objects.get(tenant=district).domain == "prov-ok.localhost"
    with tenant_context(district):
        assert module_config("cases")["response_hours"] == 7  # copied from kangbashi
    connection.set_schema_to_public()
    assert {k for k, v in counted_steps.items() if v == 1} >= {"district", "rules", "branding"}
    steps = progress(app)["run"]["steps"]
    assert all(s["state"] == "done" and s["started_at"] and s["finished_at"] for s in steps)
    assert steps[0]["result"]["from_pool"] in (True, False)
    response = client_for(district).get("/")
    assert response.status_code == 200  # its domain answers (residents see "being set up")
    connection.set_schema_to_public()
    assert AuditEntry.objects.filter(action="onboarding.run.done", target_id=str(run.pk)).exists()


def test_a_failing_step_stops_the_run_and_a_retry_skips_the_done_steps(vendor, vendor_user, ops_user,
                                                                        counted_steps):
    broken = {"on": True}

    def flaky(run):
        counted_steps["flaky"] = counted_steps.get("flaky", 0) + 1
        if broken["on"]:
            raise RuntimeError("payment gateway down")
        return {"ok": True}

    register_step(StepSpec("flaky", 45, "测试步骤", "Test step", flaky))
    try:
        app, run = approved(vendor, vendor_user, ops_user, slug="prov-retry")
        run = provisioning.provision(run.pk)
        assert run.status == "failed" and "测试步骤" in run.error
        app.refresh_from_db()
        assert app.state == "failed"
        states = dict(run.steps.values_list("key", "state"))
        assert states["district"] == "done" and states["rules"] == "done"
        assert states["flaky"] == "failed" and states["branding"] == "pending"
        district = District.objects.get(slug="prov-retry")  # a whole district (create_district is all-or-nothing)
        assert district.live_at is None and Domain.objects.filter(tenant=district).exists()
        assert "gateway" not in run.steps.get(key="flaky").error  # words, not the exception text
        assert provisioning.provision(run.pk).status == "failed"  # a failed run is not rerun without a retry
        assert counted_steps["flaky"] == 1

        broken["on"] = False
        retry_run(actor=ops_user, run=run, reason="网关已恢复")
        run = provisioning.provision(run.pk)
        assert run.status == "done"
        assert counted_steps["district"] == 1 and counted_steps["rules"] == 1  # not repeated
        assert counted_steps["flaky"] == 2 and counted_steps["branding"] == 1
        assert District.objects.filter(slug="prov-retry").count() == 1
        app.refresh_from_db()
        assert app.state == "provisioned"
        assert run.steps.get(key="flaky").attempts == 2
    finally:
        _steps.pop("flaky", None)


def test_a_failing_district_step_leaves_no_district(vendor, vendor_user, ops_user, monkeypatch):
    import dataclasses

    from modules.catalog import catalog

    specs = dict(catalog.specs)
    specs["notices"] = dataclasses.replace(specs["notices"], seed=f"{__name__}.failing_seed_hook")
    monkeypatch.setitem(catalog.__dict__, "specs", specs)
    app, run = approved(vendor, vendor_user, ops_user, slug="prov-broken")
    run = provisioning.provision(run.pk)
    assert run.status == "failed"
    assert not District.objects.filter(slug="prov-broken").exists()
    assert not Domain.objects.filter(domain="prov-broken.localhost").exists()
    assert run.district is None
    monkeypatch.undo()
    retry_run(actor=ops_user, run=run)
    run = provisioning.provision(run.pk)
    assert run.status == "done" and District.objects.get(slug="prov-broken").live_at is None


def failing_seed_hook(*, template, actor):
    raise RuntimeError("seed failed")


def test_a_queued_run_left_by_a_lost_kick_is_resumed(vendor, vendor_user, ops_user):
    _app, run = approved(vendor, vendor_user, ops_user, slug="prov-lost")
    assert ProvisioningRun.objects.get(pk=run.pk).status == "queued"
    from kernel import jobs

    assert run.pk in jobs.to_resume(provisioning.RUNS, queued_seconds=0)
    assert run.pk not in jobs.to_resume(provisioning.RUNS)  # only once it waited a while
