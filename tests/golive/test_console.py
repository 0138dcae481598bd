"""The console's district page: a vendor sees only its own districts (another's is 404), with the
checklist and its links, go live (reason + confirmation), re-issue of the administrator's invitation
(audited), ops' status actions, and links to the district's billing and lifecycle pages."""
from __future__ import annotations

from urllib.parse import urlparse

import pytest
from django.db import connection
from django_tenants.utils import tenant_context
from rest_framework.test import APIClient

from accounts import invitations
from kernel.models import AuditEntry
from tenants.models import District
from tests.conftest import PASSWORD, client_for

pytestmark = pytest.mark.django_db


def console_user(username: str, role: str, vendor=None) -> APIClient:
    from accounts.services import create_user
    from tenants.services import grant_platform_role

    connection.set_schema_to_public()
    user = create_user(actor=None, username=username, password=PASSWORD)
    grant_platform_role(actor=None, user=user, role=role, vendor=vendor)
    client = APIClient(HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def vendors(not_live, laixi):
    from tenants.services import create_vendor

    ordos = create_vendor(actor=None, slug="gl-ordos", name_zh="鄂尔多斯码上")
    qingdao = create_vendor(actor=None, slug="gl-qingdao", name_zh="青岛智城")
    District.objects.filter(pk=not_live.pk).update(vendor=ordos)
    District.objects.filter(pk=laixi.pk).update(vendor=qingdao)
    return console_user("gl-v1", "vendor", ordos), console_user("gl-v2", "vendor", qingdao)


def test_a_vendor_sees_its_own_district_and_gets_404_for_another_vendors(not_live, vendors, only_my_checks):
    vendor, vendor2 = vendors
    page = vendor.get("/console/districts/dongsheng/")
    body = page.content.decode()
    assert page.status_code == 200 and 'data-testid="golive-checklist" data-left="4"' in body
    assert "https://dongsheng.localhost/registry/ledger/" in body  # each item links where it is done
    assert 'href="/billing/districts/dongsheng/"' in body and 'href="/console/lifecycle/dongsheng/"' in body
    assert 'data-testid="status-actions"' not in body  # status actions are ops'
    assert vendor2.get("/console/districts/dongsheng/").status_code == 404
    assert vendor2.post("/console/districts/dongsheng/go-live/", {"reason": "x", "confirm": "1"}).status_code == 404
    assert vendor2.post("/console/districts/dongsheng/invite/").status_code == 404
    assert vendor2.get("/console/districts/laixi/").status_code == 200
    listing = vendor.get("/console/").content.decode()
    assert 'href="/console/districts/dongsheng/"' in listing and "laixi" not in listing
    ops = console_user("gl-ops", "ops")
    ops_page = ops.get("/console/districts/dongsheng/").content.decode()
    assert 'data-testid="status-actions"' in ops_page and 'name="override"' in ops_page
    assert APIClient(HTTP_HOST="localhost").get("/console/districts/dongsheng/").status_code == 302


def test_go_live_from_the_page_needs_the_checklist_a_reason_and_a_confirmation(not_live, vendors, only_my_checks):
    vendor, _ = vendors
    vendor.post("/console/districts/dongsheng/go-live/", {"reason": "ready"})  # not confirmed
    refused = vendor.post("/console/districts/dongsheng/go-live/", {"reason": "ready", "confirm": "1"}, follow=True)
    assert '<p class="error">' in refused.content.decode()  # "not ready; still to do: …"
    assert District.objects.get(pk=not_live.pk).live_at is None
    vendor.post("/console/districts/dongsheng/go-live/", {"reason": "ready", "confirm": "1", "override": "1"})
    assert District.objects.get(pk=not_live.pk).live_at is None  # a vendor cannot override
    ops = console_user("gl-ops3", "ops")
    done = ops.post("/console/districts/dongsheng/go-live/", {"reason": "pilot", "confirm": "1", "override": "1"})
    assert done.status_code == 302 and District.objects.get(pk=not_live.pk).live_at is not None
    assert 'data-testid="setting-up"' not in client_for(not_live).get("/").content.decode()  # residents are in


def test_the_vendor_re_issues_the_invitation_and_it_is_audited(not_live, vendors):
    vendor, _ = vendors
    with tenant_context(not_live):
        _user, first = invitations.invite_admin(actor=None, username="chief", display_name="王主任")
    page = vendor.post("/console/districts/dongsheng/invite/")
    body = page.content.decode()
    assert page.status_code == 200 and 'data-testid="invite-url"' in body and page["Cache-Control"] == "no-store"
    url = body.split('data-testid="invite-url"')[1].split("<code")[1].split(">")[1].split("<")[0]
    assert "/invite/" in url and url != first
    with tenant_context(not_live):
        assert invitations.find(urlparse(url).path.split("/")[2]).user.username == "chief"
        with pytest.raises(invitations.InvitationError):
            invitations.find(urlparse(first).path.split("/")[2])
        assert AuditEntry.objects.filter(action="user.invite", actor_label="gl-v1").exists()
    connection.set_schema_to_public()
    entry = AuditEntry.objects.get(action="district.admin_invite", target_id=str(not_live.pk))
    assert entry.actor_id == vendor.user.pk and entry.after["username"] == "chief"
    with tenant_context(not_live):
        invitations.accept(token=urlparse(url).path.split("/")[2], password="Lantern-Fjord-42")
    nothing = vendor.post("/console/districts/dongsheng/invite/")
    assert nothing.status_code == 409 and 'data-testid="invite-error"' in nothing.content.decode()
