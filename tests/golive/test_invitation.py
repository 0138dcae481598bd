"""The first administrator's invitation: a one-time link, valid 72 h, hashed at rest, that sets a
password and signs them in; the provisioning step that makes it (idempotent), and its re-issue."""
from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from urllib.parse import urlparse

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts import invitations
from accounts.models import Invitation
from kernel.errors import Conflict, DomainError
from kernel.lifecycle_hooks import provisioning_steps
from kernel.models import AuditEntry, RoleAssignment
from kernel.sms import MemorySender
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def token_of(url: str) -> str:
    return urlparse(url).path.split("/")[2]


def invite(district, username="chief", **kwargs):
    with tenant_context(district):
        return invitations.invite_admin(actor=None, username=username, display_name="王主任", **kwargs)


def test_the_invited_admin_has_no_password_and_the_token_is_kept_only_as_a_keyed_hash(dongsheng):
    user, url = invite(dongsheng)
    token = token_of(url)
    assert urlparse(url).path == f"/invite/{token}/" and len(token) >= 40
    with tenant_context(dongsheng):
        user = get_user_model().objects.get(pk=user.pk)
        assert not user.has_usable_password() and user.is_staff
        assert RoleAssignment.objects.filter(user=user, role="district_admin").exists()
        stored = Invitation.objects.get(user=user)
        assert stored.token_hash != token and token not in stored.token_hash and len(stored.token_hash) == 64
        assert stored.expires_at - stored.created_at == timedelta(hours=72)
        assert not Invitation.objects.filter(token_hash=token).exists()


def test_the_link_expires_after_72_hours(dongsheng):
    now = timezone.now()
    _user, url = invite(dongsheng, now=now)
    token = token_of(url)
    with tenant_context(dongsheng):
        assert invitations.find(token, now=now + timedelta(hours=71, minutes=59))
        with pytest.raises(invitations.InvitationError) as late:
            invitations.find(token, now=now + timedelta(hours=72, seconds=1))
        assert late.value.code == "invite_expired" and late.value.status == 410
        with pytest.raises(invitations.InvitationError):
            invitations.accept(token=token, password="Lantern-Fjord-42", now=now + timedelta(hours=73))
        assert not get_user_model().objects.get(username="chief").has_usable_password()


def test_an_expired_link_is_a_clear_page(dongsheng):
    _user, url = invite(dongsheng, now=timezone.now() - timedelta(hours=73))
    page = client_for(dongsheng).get(urlparse(url).path)
    assert page.status_code == 410 and 'data-code="invite_expired"' in page.content.decode()
    assert client_for(dongsheng).get("/invite/not-a-token/").status_code == 404


def test_setting_the_password_signs_in_lands_on_manage_and_the_link_works_once(dongsheng):
    user, url = invite(dongsheng)
    client = client_for(dongsheng)
    page = client.get(urlparse(url).path, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert page.status_code == 200 and 'data-testid="invite-username"' in page.content.decode()
    weak = client.post(urlparse(url).path, {"password": "123", "password2": "123"})
    assert weak.status_code == 400 and 'data-testid="invite-error"' in weak.content.decode()  # Django's validators
    with tenant_context(dongsheng):
        assert not get_user_model().objects.get(pk=user.pk).has_usable_password()
    done = client.post(urlparse(url).path, {"password": "Lantern-Fjord-42", "password2": "Lantern-Fjord-42"})
    assert done.status_code == 302 and done["Location"] == "/manage/"
    assert client.get("/manage/").status_code == 200  # signed in, as the district administrator
    with tenant_context(dongsheng):
        user = get_user_model().objects.get(pk=user.pk)
        assert user.check_password("Lantern-Fjord-42") and user.last_login is not None
        assert AuditEntry.objects.filter(action="user.invitation_accept", target_id=str(user.pk)).exists()
    again = client_for(dongsheng).post(urlparse(url).path, {"password": "Other-Pass-9876", "password2": "Other-Pass-9876"})
    assert again.status_code == 410 and 'data-code="invite_used"' in again.content.decode()
    with tenant_context(dongsheng):
        assert get_user_model().objects.get(pk=user.pk).check_password("Lantern-Fjord-42")
        with pytest.raises(Conflict):  # a set-up administrator is not invited over again
            invitations.invite_admin(actor=None, username="chief", display_name="")


def test_a_new_link_replaces_the_old_one_and_makes_no_second_user(dongsheng):
    user, first = invite(dongsheng)
    again, second = invite(dongsheng)
    assert again.pk == user.pk and first != second
    with tenant_context(dongsheng):
        assert get_user_model().objects.filter(username="chief").count() == 1
        with pytest.raises(invitations.InvitationError) as old:
            invitations.find(token_of(first))
        assert old.value.code == "invite_superseded"
        assert invitations.find(token_of(second)).user_id == user.pk


def test_the_provisioning_step_is_registered_encrypts_the_link_texts_it_and_is_idempotent(
        dongsheng, django_capture_on_commit_callbacks):
    step = next(s for s in provisioning_steps() if s.key == "admin_invite")
    assert step.order == 70
    run = SimpleNamespace(district=dongsheng, actor=None, application=SimpleNamespace(
        admin_username="chief", contact_name="王主任", contact_phone="138 0013 8000"))
    with django_capture_on_commit_callbacks(execute=True):
        result = step.run(run)
    url = invitations.reveal(result)
    assert "/invite/" in url and url not in str(result) and result["username"] == "chief"
    assert result["sms_sent_to"] == "138****8000"
    assert any(phone == "+8613800138000" and url in text for phone, text in MemorySender.outbox)
    connection.set_schema_to_public()
    with django_capture_on_commit_callbacks(execute=True):
        retry = step.run(run)  # after a crash: the same user, a new link, the old one dead
    assert retry["user_id"] == result["user_id"] and invitations.reveal(retry) != url
    with tenant_context(dongsheng):
        assert get_user_model().objects.filter(username="chief").count() == 1
        with pytest.raises(invitations.InvitationError):
            invitations.find(token_of(url))
        invitations.accept(token=token_of(invitations.reveal(retry)), password="Lantern-Fjord-42")
    assert step.run(run)["already_set_up"] is True  # set up: nothing more to do


def test_the_step_defaults_to_admin_and_survives_a_bad_phone(not_live):
    run = SimpleNamespace(district=not_live, actor=None, application=SimpleNamespace(contact_phone="12"))
    result = next(s for s in provisioning_steps() if s.key == "admin_invite").run(run)
    # the test district's "admin" has a password already (it was made with one)
    assert result == {"username": "admin", "user_id": result["user_id"], "already_set_up": True}


def test_a_weak_password_is_refused_by_the_service(dongsheng):
    _user, url = invite(dongsheng)
    with tenant_context(dongsheng), pytest.raises(DomainError) as weak:
        invitations.accept(token=token_of(url), password="password")
    assert "password" in weak.value.fields


def test_from_provisioning_to_the_set_up_card(not_live, only_my_checks):
    """The step's link, passed on by the vendor, opens on the district's domain while residents still
    see "being set up"; the new administrator lands on /manage/ and the checklist counts their sign-in."""
    run = SimpleNamespace(district=not_live, actor=None, application=SimpleNamespace(admin_username="chief"))
    url = invitations.reveal(next(s for s in provisioning_steps() if s.key == "admin_invite").run(run))
    connection.set_schema_to_public()
    client = client_for(not_live)
    assert 'data-testid="setting-up"' in client.get("/").content.decode()  # a resident's view
    done = client.post(urlparse(url).path, {"password": "Lantern-Fjord-42", "password2": "Lantern-Fjord-42"},
                       follow=True)
    body = done.content.decode()
    assert done.status_code == 200 and 'data-testid="setup-card"' in body
    assert 'data-check="admin_signed_in" data-done="1"' in body and 'data-check="rlist_set" data-done="0"' in body
    assert 'data-testid="setting-up"' not in client.get("/").content.decode()  # staff work normally
