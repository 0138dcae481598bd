"""Invitations: a one-time link (valid 72 h) that lets a person set their password, on the district's
own domain (``/invite/<token>/``). It invites a district's first administrator when the district is
provisioned (the ``admin_invite`` step), and again when a vendor or ops re-issues it from the console.

Only a keyed hash of the token is stored (like ``OneTimeCode``); the link works once; a new link for
the same person supersedes the open ones. The clear link leaves this module only (a) encrypted in the
provisioning step's result (``invite_url_encrypted``; ``reveal(result)`` gives it back to the vendor
who passes it on), (b) by SMS to the contact's phone, (c) on the console page that re-issued it.

Everything here except ``provision_admin_step`` and ``reissue_admin_invite`` runs inside the
district's schema."""
from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kernel import audit
from kernel.errors import Conflict, DomainError
from kernel.personal import blind_index, decrypt, encrypt, mask_phone, normalize_phone
from kernel.roles import Role

from .models import Invitation

log = logging.getLogger(__name__)

INVITE_TTL = timedelta(hours=72)
STEP_KEY = "admin_invite"


class InvitationError(DomainError):
    """The link cannot be used: ``code`` is unknown, used, superseded or expired."""

    status = 410


@dataclass(frozen=True)
class _Label:
    """Someone who acts in a district's schema without being one of its users (a vendor, ops, the
    provisioning job): recorded in the audit log by name only (``kernel.audit`` keeps actor_label),
    never as a foreign key to a user row of another schema."""

    username: str
    pk: None = None


def as_label(actor) -> _Label:
    return _Label(getattr(actor, "username", None) or (str(actor) if actor else "system"))


def _hash(token: str) -> str:
    return blind_index(token, "invite")


def origin(district=None) -> str:
    """https://<the district's domain> (or the codes setting ``base_url`` where the district set one:
    the same origin as its printed codes, so a LAN demo's link opens on a phone)."""
    district = district or connection.tenant
    if district.has_module("codes"):
        from modules.codes.selectors import site_origin

        return site_origin(district)
    return f"https://{district.primary_domain}"


def invite_url(token: str, district=None) -> str:
    return f"{origin(district)}/invite/{token}/"


def _issue(user, *, issued_by: str, now) -> str:
    Invitation.objects.filter(user=user, used_at__isnull=True, superseded=False).update(superseded=True)
    token = secrets.token_urlsafe(32)
    Invitation.objects.create(user=user, token_hash=_hash(token), created_at=now, expires_at=now + INVITE_TTL,
                              issued_by=issued_by[:150])
    return token


def _send_sms(user, url: str) -> str:
    """Text the link to the user's phone after the transaction commits; the masked number, or ""."""
    if not user.phone_encrypted:
        return ""
    phone = user.phone
    title = connection.tenant.portal_title("zh-hans")
    text = f"【码上】您已被邀请担任「{title}」管理员，请在72小时内打开链接设置密码：{url}"

    def send():
        from kernel.sms import get_sender

        get_sender().send(phone=phone, text=text)

    transaction.on_commit(send, robust=True)
    return mask_phone(phone)


def invite_admin(*, actor, username: str, display_name: str, phone: str | None = None,
                 email: str | None = None, now=None):
    """The district administrator ``username`` (made now, without a usable password, if missing) and a
    fresh invitation link for them: ``(user, url)``. Idempotent: called again it makes no second user,
    and issues a new link that replaces the old one. Refused (409) once they have set a password."""
    from kernel.services import assign_role

    User = get_user_model()
    now = now or timezone.now()
    username = (username or "admin").strip()
    label = as_label(actor)
    with transaction.atomic():
        user = User.objects.select_for_update().filter(username=username).first()
        if user is None:
            user = User(username=username, display_name=(display_name or "")[:80], email=(email or "").strip())
            if phone:
                e164 = normalize_phone(phone)
                index = blind_index(e164, "phone")
                if not User.objects.filter(phone_index=index).exists():
                    user.phone_encrypted, user.phone_index = encrypt(e164), index
            user.set_unusable_password()
            user.full_clean(exclude=["password"])
            user.save()
            audit.record(actor=label, action="user.create", target=user,
                         after={"username": username, "invited": True})
        elif user.has_usable_password():
            message = _("The administrator %(u)s has already set a password and can sign in.") % {"u": username}
            raise Conflict(message, code="already_set_up", fields={"username": [message]})
        assign_role(actor=label, user=user, role=Role.DISTRICT_ADMIN)
        token = _issue(user, issued_by=label.username, now=now)
        url = invite_url(token)
        audit.record(actor=label, action="user.invite", target=user,
                     after={"expires_at": (now + INVITE_TTL).isoformat()})
        user._sms_sent_to = _send_sms(user, url)
    return user, url


def find(token: str, *, now=None) -> Invitation:
    """The open invitation of ``token``, or InvitationError saying why it cannot be used."""
    now = now or timezone.now()
    invitation = Invitation.objects.select_related("user").filter(token_hash=_hash(token or "")).first()
    if invitation is None:
        raise InvitationError(_("This link is not valid. Ask whoever invited you for a new one."),
                              code="invite_unknown", status=404)
    if invitation.used_at is not None:
        raise InvitationError(_("This link has already been used. Sign in with your password."), code="invite_used")
    if invitation.superseded:
        raise InvitationError(_("A newer link was sent. Use the latest link."), code="invite_superseded")
    if invitation.expires_at <= now:
        raise InvitationError(_("This link has expired (links are valid for 72 hours). Ask whoever invited "
                                "you for a new one."), code="invite_expired")
    return invitation


def accept(*, token: str, password: str, password2: str | None = None, now=None):
    """Set the invited user's password (Django's password validators) and use up the link: the user."""
    now = now or timezone.now()
    with transaction.atomic():
        invitation = find(token, now=now)
        invitation = Invitation.objects.select_for_update().select_related("user").get(pk=invitation.pk)
        if invitation.used_at is not None:  # a concurrent accept won
            raise InvitationError(_("This link has already been used. Sign in with your password."),
                                  code="invite_used")
        user = invitation.user
        if password2 is not None and password != password2:
            message = _("The two passwords differ.")
            raise DomainError(message, code="password_mismatch", fields={"password2": [message]})
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise DomainError(" ".join(exc.messages), code="weak_password", fields={"password": exc.messages}) from exc
        user.set_password(password)
        user.save(update_fields=["password"])
        invitation.used_at = now
        invitation.save(update_fields=["used_at"])
        audit.record(actor=user, action="user.invitation_accept", target=user)
    return user


# --- provisioning and the console ---------------------------------------------------------------------

def reveal(result: dict | None) -> str:
    """The clear invitation link of an ``admin_invite`` step result (for the vendor to pass on)."""
    token = (result or {}).get("invite_url_encrypted") or ""
    return decrypt(token) if token else ""


def _step_result(user, url: str, now) -> dict:
    return {"username": user.username, "user_id": user.pk, "invite_url_encrypted": encrypt(url),
            "expires_at": (now + INVITE_TTL).isoformat(), "sms_sent_to": getattr(user, "_sms_sent_to", "")}


def provision_admin_step(run) -> dict:
    """Provisioning step ``admin_invite``: invite the administrator the application names
    (``admin_username``, ``contact_name``, ``contact_phone``, ``contact_email``) in ``run.district``.
    A retry finds the user and re-issues the link (the old one stops working); once the administrator
    has set a password it does nothing more."""
    from django_tenants.utils import tenant_context

    application = getattr(run, "application", None)
    username = (getattr(application, "admin_username", "") or "admin").strip()
    name = getattr(application, "contact_name", "") or ""
    phone = getattr(application, "contact_phone", "") or None
    email = getattr(application, "contact_email", "") or None
    if phone:
        try:
            normalize_phone(phone)
        except ValidationError:
            log.warning("admin invite of %s: the contact phone is not valid; no SMS", run.district.slug)
            phone = None
    now = timezone.now()
    actor = as_label(getattr(run, "actor", None) or "provisioning")
    with tenant_context(run.district):
        existing = get_user_model().objects.filter(username=username).first()
        if existing is not None and existing.has_usable_password():
            return {"username": username, "user_id": existing.pk, "already_set_up": True}
        user, url = invite_admin(actor=actor, username=username, display_name=name, phone=phone, email=email,
                                 now=now)
        return _step_result(user, url, now)


def pending_admins(district):
    """The district's administrators who have not set a password yet (read in its schema)."""
    from django_tenants.utils import tenant_context

    from kernel.models import RoleAssignment

    with tenant_context(district):
        ids = RoleAssignment.objects.filter(role=Role.DISTRICT_ADMIN).values_list("user_id", flat=True)
        return [u for u in get_user_model().objects.filter(pk__in=list(ids)).order_by("pk")
                if not u.has_usable_password()]


def reissue_admin_invite(*, actor, district, username: str | None = None, now=None) -> str:
    """A vendor or ops re-issues the administrator's invitation (the old link stops working): the new
    link, to show once. Audited in the platform's log (who, which district) and the district's."""
    from django_tenants.utils import tenant_context

    from tenants.models import District

    now = now or timezone.now()
    with tenant_context(district):
        User = get_user_model()
        if username:
            user = User.objects.filter(username=username).first()
        else:
            pending = pending_admins(district)
            user = pending[0] if pending else None
        if user is None:
            message = _("There is no administrator waiting for an invitation: they have set a password "
                        "and can sign in.")
            raise Conflict(message, code="no_pending_admin")
        user, url = invite_admin(actor=actor, username=user.username, display_name=user.display_name, now=now)
    connection.set_schema_to_public()
    with transaction.atomic():
        audit.record(actor=actor, action="district.admin_invite", target=District.objects.get(pk=district.pk),
                     after={"username": user.username, "expires_at": (now + INVITE_TTL).isoformat()})
    return url
