"""The whole of 好差评 on two phones (headless Chromium, 360 px), through the real outbox: a resident
scans an official's code and gives a bad rating in two taps → the cases module opens a follow-up case
for the official's department (through the ``ratings.bad_rating`` event) → the department's staff open
the callback page, call the rater and record the outcome → the follow-up case is resolved → the rater
opens their rating and reads the outcome.

Committed data in the "dongsheng" district (ratings and cases on), names unique per run; what was made
is removed afterwards."""
from __future__ import annotations

import re
import secrets

import pytest
from django.db import connection
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from tests.conftest import chromium, in_thread, make_user, needs_chromium, sign_in
from tests.ratings.test_ledger_browser import PHONE, _fits_the_phone, _world

pytestmark = [pytest.mark.browser, needs_chromium]


def test_scan_rate_badly_follow_up_case_callback_and_the_rater_sees_the_outcome(live_server_url, django_db_blocker):
    from modules.cases.models import Case
    from modules.ratings.followup.models import FollowUp
    from modules.ratings.ledger.models import Rating, Tally

    tag = secrets.token_hex(3)
    with django_db_blocker.unblock():
        district, _bound, official, token = _world(tag)
        department_code = f"civil-{tag}"
        connection.set_schema_to_public()
        staff = make_user(district, f"rt-e2e-{tag}", "official", "department", department_code)
        # a resident of the same household, who signed in with their phone: the number the unit calls back
        phone_number = f"1391{secrets.randbelow(10**7):07d}"
        rater = make_user(district, f"rt-e2e-r-{tag}", "resident", phone=phone_number)
        with tenant_context(district):
            from modules.registry import services as registry
            from modules.registry.models import Membership

            home = Membership.objects.get(resident__user=_bound).household
            me = registry.register_resident(actor=None, name=f"李梅{tag}", household=home, relation="member")
            registry.link_account(actor=None, resident=me, user=rater)
        connection.set_schema_to_public()
        server = live_server_url.format(host="dongsheng.localhost")
        phone = dict(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True,
                     extra_http_headers={"Accept-Language": "zh-hans"})
        try:
            with chromium() as browser:
                # 1. the resident: scan, 评价, 非常不满意 (two taps)
                resident = browser.new_context(**phone).new_page()
                sign_in(resident, server, rater.username, f"/c/{token}")
                with resident.expect_navigation():
                    resident.locator('[data-testid="code-actions"] [data-action="rate"]').click()
                resident.get_by_test_id("rate-more").locator("summary").click()
                resident.get_by_test_id("comment").fill("低保复核材料交了三次还说不全")
                with resident.expect_navigation():
                    resident.get_by_test_id("face-1").click()
                rated_url = resident.url
                assert re.search(r"/ratings/mine/\d+/$", rated_url)
                expect(resident.get_by_test_id("follow-up-status")).to_be_visible()

                # 2. the outbox: cases opens the follow-up case, which links back to the rating's follow-up
                def relay():
                    from kernel.events import relay_pending

                    relay_pending()
                    relay_pending()
                    rating = Rating.objects.get(official=official)
                    follow_up = FollowUp.objects.get(rating=rating)
                    case = Case.objects.get(pk=follow_up.case_id)
                    return rating.pk, follow_up.pk, case.pk, case.responsible_kind, case.responsible_code, \
                        case.reporter_id, case.status

                rating_id, follow_up_id, case_id, kind, code, reporter, status = in_thread(district, relay)
                assert (kind, code, reporter, status) == ("department", department_code, None, "submitted")

                # 3. the department's staff: the callback
                desk = browser.new_context(**phone).new_page()
                sign_in(desk, server, staff.username, "/ratings/staff/follow-ups/")
                desk.locator(f'[data-follow-up="{follow_up_id}"]').click()
                expect(desk.get_by_test_id("call")).to_have_attribute("href", f"tel:+86{phone_number}")
                form = desk.get_by_test_id("callback-form")
                form.locator('input[name="outcome"][value="fixed_now"]').check()
                form.locator('input[name="reached"][value="yes"]').check()
                form.locator('textarea[name="note"]').fill("已回访：材料已补齐，低保复核已通过")
                desk.get_by_test_id("callback-submit").click()
                expect(desk.get_by_test_id("follow-up-status")).to_have_attribute("class", re.compile("done"))
                _fits_the_phone(desk)

                def resolved():
                    from kernel.events import relay_pending

                    relay_pending()
                    return Case.objects.get(pk=case_id).status

                assert in_thread(district, resolved) == "resolved"

                # 4. the resident reads the outcome on their rating
                resident.goto(rated_url)
                expect(resident.get_by_test_id("follow-up-note")).to_have_text("已回访：材料已补齐，低保复核已通过")
                expect(resident.get_by_test_id("follow-up-outcome")).to_be_visible()
                _fits_the_phone(resident)
        finally:
            def clean():
                ratings = Rating.objects.filter(official=official)
                case_ids = list(FollowUp.objects.filter(rating__in=ratings).exclude(case_id=None)
                                .values_list("case_id", flat=True))
                FollowUp.objects.filter(rating__in=ratings).delete()
                ratings.delete()
                Tally.objects.filter(official=official).delete()
                for case in Case.objects.filter(pk__in=case_ids):
                    case.events.all().delete()
                    case.delete()

            in_thread(district, clean)
