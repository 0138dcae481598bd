"""Approval queues provisioning by task name; a real Celery worker runs it to a district serving its
domain (committed data, removed at the end: the district's schema is dropped)."""
from __future__ import annotations

import secrets

import pytest
from django.conf import settings
from django.db import connection, transaction

from tests.conftest import client_for, wait_for
from tests.onboarding.conftest import application_data


def _drop(district) -> None:
    from tenants.models import District

    District.objects.filter(pk=district.pk).delete()  # its domains; applications and runs let go of it
    with connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{district.schema_name}" CASCADE')


@pytest.mark.worker
def test_a_real_worker_provisions_an_approved_application(celery_worker, django_db_blocker):
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
