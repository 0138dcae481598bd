"""Approval queues provisioning by task name; a real Celery worker runs it to a district serving its
domain (committed data, removed at the end: the district's schema is dropped). The worker is one of
this test's own, on a queue of its own, told where the session's localstripe is (provisioning runs
billing's step), so it is independent of the session's worker and its settings."""
from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.db import connection, transaction

from tests.billing.fixtures import TEST_KEY
from tests.conftest import ROOT, _test_database_url, client_for, wait_for
from tests.onboarding.conftest import application_data


@pytest.fixture
def stripe_worker(django_db_setup, django_db_blocker, localstripe_url, monkeypatch):  # noqa: F811
    import urllib.request

    from config.celery import app

    # Stripe starts empty, as for every billing test (tests.billing.fixtures.use_localstripe)
    urllib.request.urlopen(urllib.request.Request(f"{localstripe_url}/_config/data", method="DELETE"), timeout=5)
    queue = f"{settings.CELERY_TASK_DEFAULT_QUEUE}-onboarding"
    with django_db_blocker.unblock():
        url = _test_database_url()
    env = {**os.environ, "DATABASE_URL": url, "MASHANG_TESTING": "1", "MASHANG_RUN_DIR": str(settings.RUN_DIR),
           "CACHE_KEY_PREFIX": settings.CACHE_KEY_PREFIX, "CELERY_QUEUE": queue,
           "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'platform'}", "SMS_SENDER": "kernel.sms.ConsoleSender",
           "STRIPE_API_BASE": localstripe_url, "STRIPE_SECRET_KEY": TEST_KEY, "STRIPE_MAX_NETWORK_RETRIES": "0",
           "STRIPE_SUPPORTS_SEND_INVOICE": "0", "STRIPE_SUPPORTS_METER_EVENTS": "0"}
    log_path = settings.RUN_DIR / "test-worker-onboarding.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--loglevel=INFO", "-Q", queue,
             "--without-heartbeat", "--without-gossip", "--without-mingle"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 60
        while "ready." not in log_path.read_text(errors="replace"):
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("the onboarding test's celery worker did not start:\n" + log_path.read_text())
            time.sleep(0.2)
        monkeypatch.setitem(app.conf, "task_default_queue", queue)  # this test's kicks go to its worker
        monkeypatch.setitem(app.conf, "task_always_eager", False)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        if not settings.CELERY_BROKER_URL.startswith("filesystem"):
            with app.connection_for_write() as conn:  # nothing of this run left in the broker
                conn.default_channel.queue_purge(queue)


@contextlib.contextmanager
def stripe_ids_kept():
    """billing.Plan keeps the Stripe ids it made (committed here): put them back as they were, so
    later tests' emptied localstripe is not told of a plan it no longer has."""
    from django.apps import apps

    if not apps.is_installed("billing"):
        yield
        return
    plan = apps.get_model("billing", "Plan")
    before = list(plan.objects.values_list("pk", "stripe_product_id", "stripe_plan_id"))
    plan.objects.update(stripe_product_id="", stripe_plan_id="")  # made again in the Stripe this test talks to
    try:
        yield
    finally:
        for pk, product, plan_id in before:
            plan.objects.filter(pk=pk).update(stripe_product_id=product, stripe_plan_id=plan_id)


def _drop(district) -> None:
    from django.apps import apps

    from tenants.models import District

    if apps.is_installed("billing"):  # the billing step's rows point at the district (PROTECT)
        for model in apps.get_app_config("billing").get_models():
            if any(f.name == "district" for f in model._meta.fields):
                model.objects.filter(district_id=district.pk).delete()
    District.objects.filter(pk=district.pk).delete()  # its domains; applications and runs let go of it
    with connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{district.schema_name}" CASCADE')


@pytest.mark.worker
def test_a_real_worker_provisions_an_approved_application(stripe_worker, django_db_blocker):
    from accounts.models import User
    from kernel.models import AuditEntry
    from onboarding.models import Application, ProvisioningRun
    from onboarding.services import approve_application, create_application
    from tenants.models import District, PlatformMembership, Vendor
    from tenants.services import create_vendor, grant_platform_role, pool_size

    tag = secrets.token_hex(3)
    slug = f"wk-{tag}"
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        last_audit = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
        vendor = create_vendor(actor=None, slug=f"wk-vendor-{tag}", name_zh="工作进程服务商")
        with transaction.atomic():
            vendor_user = User.objects.create(username=f"wk-v-{tag}")
            ops_user = User.objects.create(username=f"wk-o-{tag}")
        grant_platform_role(actor=None, user=vendor_user, role="vendor", vendor=vendor)
        grant_platform_role(actor=None, user=ops_user, role="ops")
        kept = stripe_ids_kept()
        kept.__enter__()
        try:
            app = create_application(actor=vendor_user, vendor=vendor, data=application_data(slug=slug), submit=True)
            run = approve_application(actor=ops_user, application=app, reason="worker test")  # commits, then kicks

            def finished():
                found = ProvisioningRun.objects.get(pk=run.pk)
                return found if found.status in ("done", "failed") else None

            done = wait_for(finished, timeout=150, interval=0.5)
            assert done, f"the worker did not run the provisioning: {ProvisioningRun.objects.get(pk=run.pk).status}"
            assert done.status == "done", done.error
            district = District.objects.get(slug=slug)
            assert district.live_at is None and district.vendor == vendor
            assert Application.objects.get(pk=app.pk).state == "provisioned"
            assert client_for(district).get("/").status_code == 200
            connection.set_schema_to_public()
            if done.steps.get(key="district").result.get("from_pool"):
                # the claim kicked a pool refill: let it finish here, not during later tests
                wait_for(lambda: pool_size() >= settings.DISTRICT_POOL_SIZE, timeout=150, interval=1)
        finally:
            connection.set_schema_to_public()
            Application.objects.filter(vendor=vendor).delete()
            for district in District.objects.filter(slug=slug):
                _drop(district)
            AuditEntry.objects.filter(id__gt=last_audit, at__isnull=False).delete()
            PlatformMembership.objects.filter(user__in=[vendor_user, ops_user]).delete()
            User.objects.filter(pk__in=[vendor_user.pk, ops_user.pk])._raw_delete(using="default")
            Vendor.objects.filter(pk=vendor.pk).delete()
            kept.__exit__(None, None, None)
