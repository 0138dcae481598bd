"""Headless Chromium: a vendor signs in, opens the progress page of an approved application and watches
the steps turn done while provisioning runs, without reloading the page (it polls progress.json). The
real WSGI app serves committed data; everything made is removed at the end (the district's schema is
dropped). A phone-size screenshot goes to test-artifacts/onboarding-progress.png."""
from __future__ import annotations

import secrets
import threading

import pytest
from django.db import connection, transaction

from tests.conftest import ARTIFACTS, PASSWORD, chromium, needs_chromium
from tests.onboarding.conftest import application_data
from tests.onboarding.test_worker import _drop, stripe_ids_kept

pytestmark = [pytest.mark.browser, needs_chromium]


def test_the_vendor_watches_provisioning_live(live_server_url, django_db_blocker, unheard_queue):
    from accounts.services import create_user
    from kernel.models import AuditEntry
    from onboarding import provisioning
    from onboarding.models import Application
    from onboarding.services import approve_application, create_application
    from tenants.models import District, PlatformMembership, Vendor
    from tenants.services import create_vendor, grant_platform_role

    tag = secrets.token_hex(3)
    slug = f"br-{tag}"
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        last_audit = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
        vendor = create_vendor(actor=None, slug=f"br-vendor-{tag}", name_zh="浏览器服务商")
        with transaction.atomic():
            vendor_user = create_user(actor=None, username=f"br-v-{tag}", password=PASSWORD)
            ops_user = create_user(actor=None, username=f"br-o-{tag}", password=PASSWORD)
        grant_platform_role(actor=None, user=vendor_user, role="vendor", vendor=vendor)
        grant_platform_role(actor=None, user=ops_user, role="ops")
        kept = stripe_ids_kept()
        kept.__enter__()
        app = create_application(actor=vendor_user, vendor=vendor, data=application_data(slug=slug), submit=True)
        run = approve_application(actor=ops_user, application=app, reason="browser test")
    base = live_server_url.format(host="localhost")
    worker = threading.Thread(target=lambda: (provisioning.provision(run.pk), connection.close()))
    try:
        with django_db_blocker.unblock(), chromium() as browser:
            page = browser.new_page(viewport={"width": 360, "height": 740}, locale="zh-CN")
            page.goto(f"{base}/login/?next=/console/applications/{app.pk}/progress/")
            page.fill("input[name=username]", vendor_user.username)
            page.fill("input[name=password]", PASSWORD)
            page.click("form button")
            page.wait_for_selector('[data-testid="steps"] li')
            assert page.locator('[data-testid="steps"] li.done').count() == 0
            page.evaluate("window.notReloaded = true")
            worker.start()  # provisioning runs while the page is open
            page.wait_for_function(
                "document.querySelectorAll('[data-testid=steps] li').length > 0 && "
                "[...document.querySelectorAll('[data-testid=steps] li')].every(li => li.classList.contains('done'))",
                timeout=120_000)
            assert page.evaluate("window.notReloaded === true")  # updated in place, no reload
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "onboarding-progress.png"), full_page=True)
            assert page.evaluate("document.documentElement.scrollWidth") <= 360
    finally:
        if worker.is_alive() or worker.ident:
            worker.join(120)
        with django_db_blocker.unblock():
            connection.set_schema_to_public()
            Application.objects.filter(vendor=vendor).delete()
            for district in District.objects.filter(slug=slug):
                _drop(district)
            AuditEntry.objects.filter(id__gt=last_audit).delete()
            PlatformMembership.objects.filter(user__in=[vendor_user, ops_user]).delete()
            from accounts.models import User

            User.objects.filter(pk__in=[vendor_user.pk, ops_user.pk])._raw_delete(using="default")
            Vendor.objects.filter(pk=vendor.pk).delete()
            kept.__exit__(None, None, None)
