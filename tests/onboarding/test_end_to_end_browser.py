"""The whole onboarding in headless Chromium, as the people do it: a vendor applies through the form,
platform staff approve it (reason + confirmation), the vendor watches provisioning finish on the
progress page, the new district's portal answers on its own domain (saying it is being set up), and its
administrator opens the invitation link from the progress page, sets a password and lands signed in on
/manage/ with the set-up checklist. The real WSGI app serves committed data; everything made is
removed at the end. Screenshots: test-artifacts/onboarding-e2e-*.png."""
from __future__ import annotations

import secrets
import threading
import time
from urllib.parse import urlsplit

import pytest
from django.db import connection, transaction

from tests.conftest import ARTIFACTS, PASSWORD, chromium, needs_chromium
from tests.onboarding.test_worker import _drop, stripe_ids_kept

pytestmark = [pytest.mark.browser, needs_chromium]
PHONE = {"width": 360, "height": 740}


def _read(fn):
    """A database read while Chromium is open (Playwright's event loop makes this thread 'async' to
    Django): in a thread of its own, on its own connection."""
    out = {}

    def work():
        try:
            connection.set_schema_to_public()
            out["value"] = fn()
        finally:
            connection.close()

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    return out["value"]


def _sign_in(page, base: str, username: str, to: str) -> None:
    page.goto(f"{base}/login/?next={to}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button")
    page.wait_for_url(f"**{to}")


def test_apply_approve_provision_and_the_new_administrator_signs_in(live_server_url, django_db_blocker,
                                                                     unheard_queue, settings):
    from accounts.services import create_user
    from kernel.models import AuditEntry
    from onboarding import provisioning
    from onboarding.models import Application, ProvisioningRun
    from tenants.models import District, PlatformMembership
    from tenants.services import create_vendor, grant_platform_role

    tag = secrets.token_hex(3)
    slug = f"e2e-{tag}"
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        last_audit = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
        vendor = create_vendor(actor=None, slug=f"e2e-vendor-{tag}", name_zh="端到端服务商")
        with transaction.atomic():
            vendor_user = create_user(actor=None, username=f"e2e-v-{tag}", password=PASSWORD)
            ops_user = create_user(actor=None, username=f"e2e-o-{tag}", password=PASSWORD)
        grant_platform_role(actor=None, user=vendor_user, role="vendor", vendor=vendor)
        grant_platform_role(actor=None, user=ops_user, role="ops")
        kept = stripe_ids_kept()
        kept.__enter__()
    base = live_server_url.format(host="localhost")
    district_base = live_server_url.format(host=f"{slug}.{settings.DISTRICT_DOMAIN_SUFFIX}")
    worker = None
    try:
        with django_db_blocker.unblock(), chromium() as browser:
            # 1. The vendor applies.
            vendor_page = browser.new_context(viewport=PHONE, locale="zh-CN").new_page()
            _sign_in(vendor_page, base, vendor_user.username, "/console/applications/new/")
            form = vendor_page.get_by_test_id("application-form")
            form.locator("input[name=name_zh]").fill("端到端区")
            form.locator("input[name=region_code]").fill("370215")
            form.locator("input[name=slug]").fill(slug)
            form.locator("input[name=contact_name]").fill("马骏")
            form.locator("input[name=contact_phone]").fill("13912345678")
            form.locator("input[name=contact_email]").fill("ma@example.cn")
            form.locator("input[name=population]").fill("120000")
            for key in ("cases", "notices"):
                form.locator(f"input[name=modules][value={key}]").check()
            form.locator("select[name=plan_key]").select_option("standard")
            form.locator("input[name=dpa_signer]").fill("马骏")
            form.locator("input[name=dpa_accepted]").check()
            vendor_page.screenshot(path=str(ARTIFACTS / "onboarding-e2e-form.png"), full_page=True)
            form.locator("button[name=action][value=submit]").click()
            vendor_page.wait_for_url("**/console/applications/*/")
            application = _read(lambda: Application.objects.get(slug=slug))
            assert application.vendor_id == vendor.pk and application.state == "submitted"

            # 2. Platform staff approve it, with a reason and the confirmation.
            ops_page = browser.new_context(viewport={"width": 1280, "height": 860}, locale="zh-CN").new_page()
            _sign_in(ops_page, base, ops_user.username, f"/console/applications/{application.pk}/")
            approve = ops_page.locator(f"form[action='/console/applications/{application.pk}/approve/']")
            approve.locator("textarea[name=reason]").fill("资料齐全，同意开通")
            approve.locator("input[name=confirm]").check()
            approve.locator("button").click()
            ops_page.wait_for_load_state()
            run = _read(lambda: ProvisioningRun.objects.get(application=application))

            # 3. The vendor watches provisioning (a worker runs it meanwhile) until every step is done.
            vendor_page.goto(f"{base}/console/applications/{application.pk}/progress/")
            worker = threading.Thread(target=lambda: (provisioning.provision(run.pk), connection.close()))
            worker.start()
            vendor_page.wait_for_function(
                "document.querySelectorAll('[data-testid=steps] li').length > 0 && "
                "[...document.querySelectorAll('[data-testid=steps] li')].every(li => li.classList.contains('done'))",
                timeout=120_000)
            keys = vendor_page.eval_on_selector_all("[data-testid=steps] li", "els => els.map(e => e.dataset.key)")
            assert {"district", "admin_invite", "billing"} <= set(keys)
            invite = vendor_page.get_by_test_id("invite-url")
            invite.wait_for(state="visible")
            invite_url = invite.inner_text().strip()
            vendor_page.screenshot(path=str(ARTIFACTS / "onboarding-e2e-progress.png"), full_page=True)
            assert vendor_page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

            # 4. The new district's portal answers on its own domain: being set up, for residents.
            resident = browser.new_context(viewport=PHONE, locale="zh-CN").new_page()
            answer = resident.goto(f"{district_base}/")
            assert answer.status == 200
            assert "端到端区" in resident.content() and "开通" in resident.content()

            # 5. Its administrator sets a password from the invitation and lands signed in on /manage/.
            path = urlsplit(invite_url).path
            assert path.startswith("/invite/")
            admin = browser.new_context(viewport=PHONE, locale="zh-CN").new_page()
            admin.goto(f"{district_base}{path}")
            admin.fill("input[name=password]", "Kbs-new-admin-2026")
            admin.fill("input[name=password2]", "Kbs-new-admin-2026")
            admin.screenshot(path=str(ARTIFACTS / "onboarding-e2e-invite.png"), full_page=True)
            admin.get_by_test_id("invite-page").locator("form button").click()
            admin.wait_for_url("**/manage/")
            admin.screenshot(path=str(ARTIFACTS / "onboarding-e2e-manage.png"), full_page=True)
            assert admin.get_by_test_id("setup-card").is_visible()
            # The link worked once: used, it is gone from the vendor's page, and opening it again is refused.
            again = browser.new_context(viewport=PHONE, locale="zh-CN").new_page().goto(f"{district_base}{path}")
            assert again.status in (404, 410)
            deadline = time.time() + 10
            vendor_page.reload()
            while vendor_page.get_by_test_id("invite").is_visible() and time.time() < deadline:
                vendor_page.wait_for_timeout(300)
                vendor_page.reload()
            assert not vendor_page.get_by_test_id("invite").is_visible()
        with django_db_blocker.unblock():
            connection.set_schema_to_public()
            district = District.objects.get(slug=slug)
            assert district.vendor_id == vendor.pk and district.live_at is None and district.status == "active"
    finally:
        if worker is not None:
            worker.join(120)
        with django_db_blocker.unblock():
            connection.set_schema_to_public()
            kept.__exit__(None, None, None)
            Application.objects.filter(vendor=vendor).delete()
            for district in District.objects.filter(slug=slug):
                _drop(district)
            AuditEntry.objects.filter(id__gt=last_audit).delete()
            PlatformMembership.objects.filter(user__in=[vendor_user, ops_user]).delete()
            from accounts.models import User

            User.objects.filter(pk__in=[vendor_user.pk, ops_user.pk])._raw_delete(using="default")
