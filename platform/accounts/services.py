"""Sign-in with phone number and one-time code; user and role management."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kernel import audit
from kernel.models import RoleAssignment
from kernel.personal import blind_index, encrypt, mask_phone, normalize_phone
from kernel.roles import Role, ScopeKind
from kernel.sms import get_sender

from .models import OneTimeCode

RESEND_AFTER = timedelta(seconds=60)


class AuthError(Exception):
    """A sign-in step failed; ``code`` says which, the message says what to do."""

    def __init__(self, message: str, code: str, status: int = 400):
        super().__init__(message)
        self.code = code
        self.status = status


@dataclass
class CodeSent:
    phone_masked: str
    expires_in: int


def _code_hash(phone_index: str, code: str) -> str:
    return blind_index(f"{phone_index}:{code}", "otp")


def request_code(*, phone: str) -> CodeSent:
    e164 = normalize_phone(phone)
    index = blind_index(e164, "phone")
    now = timezone.now()
    code = f"{secrets.randbelow(10**6):06d}"
    with transaction.atomic():
        latest = (OneTimeCode.objects.select_for_update()
                  .filter(phone_index=index, used_at__isnull=True, superseded=False).first())
        if latest and now - latest.created_at < RESEND_AFTER:
            wait = int((RESEND_AFTER - (now - latest.created_at)).total_seconds()) + 1
            raise AuthError(_("A code was just sent. Wait %(s)d seconds before asking again.") % {"s": wait},
                            "otp_too_soon", status=429)
        OneTimeCode.objects.filter(phone_index=index, used_at__isnull=True).update(superseded=True)
        OneTimeCode.objects.create(phone_index=index, code_hash=_code_hash(index, code),
                                   expires_at=now + timedelta(seconds=settings.OTP_TTL_SECONDS))
    minutes = max(1, settings.OTP_TTL_SECONDS // 60)
    get_sender().send(phone=e164, text=f"【码上】您的验证码是 {code}，{minutes} 分钟内有效。请勿告诉他人。")
    return CodeSent(phone_masked=mask_phone(e164), expires_in=settings.OTP_TTL_SECONDS)


def verify_code(*, phone: str, code: str):
    """Check the code and return the district user for this phone (created as a resident the first
    time). Wrong, expired, used or superseded codes raise AuthError; five wrong tries burn the code."""
    e164 = normalize_phone(phone)
    index = blind_index(e164, "phone")
    now = timezone.now()
    code = (code or "").strip()
    error: AuthError | None = None
    with transaction.atomic():
        otp = OneTimeCode.objects.select_for_update().filter(phone_index=index).first()
        if otp is None:
            error = AuthError(_("No code was sent to this number. Ask for a code first."), "otp_missing")
        elif otp.used_at is not None:
            error = AuthError(_("This code has already been used. Ask for a new code."), "otp_used")
        elif otp.superseded:
            error = AuthError(_("A newer code was sent. Use the latest code."), "otp_superseded")
        elif otp.expires_at <= now:
            error = AuthError(_("This code has expired. Ask for a new code."), "otp_expired")
        elif otp.attempts >= settings.OTP_MAX_ATTEMPTS:
            error = AuthError(_("Too many wrong codes. Ask for a new code."), "otp_locked")
        elif not secrets.compare_digest(otp.code_hash, _code_hash(index, code)) and OneTimeCode.objects.filter(
                phone_index=index, superseded=True, code_hash=_code_hash(index, code)).exists():
            error = AuthError(_("A newer code was sent. Use the latest code."), "otp_superseded")
        elif not secrets.compare_digest(otp.code_hash, _code_hash(index, code)):
            otp.attempts += 1
            otp.save(update_fields=["attempts"])  # committed: wrong tries count even though we refuse
            left = settings.OTP_MAX_ATTEMPTS - otp.attempts
            error = AuthError(_("Wrong code. %(n)d tries left.") % {"n": left} if left else
                              _("Wrong code. Too many wrong codes; ask for a new code."), "otp_wrong")
        else:
            otp.used_at = now
            otp.save(update_fields=["used_at"])
            user, created = _user_for_phone(e164, index)
            audit.record(actor=user, action="auth.otp_sign_in", target=user,
                         after={"new_user": created})
            return user
    raise error


def _user_for_phone(e164: str, index: str):
    User = get_user_model()
    user = User.objects.filter(phone_index=index).first()
    if user:
        return user, False
    user = User(username=f"u{index[:20]}", phone_encrypted=encrypt(e164), phone_index=index,
                display_name=_("Resident %(tail)s") % {"tail": e164[-4:]})
    user.set_unusable_password()
    user.save()
    RoleAssignment.objects.create(user=user, role=Role.RESIDENT, scope_kind=ScopeKind.DISTRICT)
    return user, True


def create_user(*, actor, username: str, password: str | None = None, display_name: str = "",
                phone: str | None = None, is_staff: bool = False, is_superuser: bool = False):
    """Create a user of the current schema (district staff, or platform staff in public)."""
    from kernel.errors import Conflict

    User = get_user_model()
    with transaction.atomic():
        if User.objects.filter(username=username).exists():
            raise Conflict(_("username: this username is taken."), fields={"username": [_("This username is taken.")]})
        user = User(username=username, display_name=display_name, is_staff=is_staff, is_superuser=is_superuser)
        if phone:
            e164 = normalize_phone(phone)
            user.phone_encrypted = encrypt(e164)
            user.phone_index = blind_index(e164, "phone")
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.full_clean(exclude=["password"])
        user.save()
        audit.record(actor=actor, action="user.create", target=user,
                     after={"username": username, "is_staff": is_staff, "is_superuser": is_superuser})
    return user


def _scope(scope: str) -> tuple[str, str]:
    """"grid:G0101" -> ("grid", "G0101"); "district" or "" -> the whole district."""
    kind, _sep, code = (scope or ScopeKind.DISTRICT).partition(":")
    return kind.strip(), code.strip()


def grant_role(*, actor, user, role: str, scope: str = ScopeKind.DISTRICT, scope_kind: str | None = None,
               scope_code: str = ""):
    """Give ``user`` a role in a scope picked from the district's places ("grid:G0101", or ``scope_kind``
    and ``scope_code`` as the API sends them): the place must exist in the registry (a typed code that
    matches nothing is refused), then the kernel's rules for which scope fits which role apply
    (``kernel.services.assign_role``). Every role an administrator gives (the users page and the users
    API) comes through here; ``assign_role`` alone is for the system (provisioning, seeds), which may
    name a place before the registry has it."""
    from kernel.errors import DomainError
    from kernel.services import assign_role
    from modules.registry.selectors import place_exists

    field = "scope" if scope_kind is None else "scope_code"
    kind, code = _scope(scope) if scope_kind is None else (scope_kind.strip(), (scope_code or "").strip())
    if kind not in ScopeKind.values:
        raise DomainError(_("Choose the scope from the list."), fields={field: [_("Choose the scope from the list.")]})
    if kind != ScopeKind.DISTRICT and code and not place_exists(kind, code):
        raise DomainError(_("There is no %(kind)s %(code)s in this district.") % {"kind": ScopeKind(kind).label, "code": code},
                          fields={field: [_("Choose a place that exists in this district.")]})
    return assign_role(actor=actor, user=user, role=role, scope_kind=kind, scope_code=code)


def add_user(*, actor, username: str, password: str | None = None, display_name: str = "", phone: str | None = None,
             role: str = "", scope: str = ScopeKind.DISTRICT, scope_kind: str | None = None, scope_code: str = ""):
    """A new district user with at most one role: none unless one is chosen (least privilege). The user
    and the role are saved together or not at all; the scope as ``grant_role`` takes it."""
    with transaction.atomic():
        user = create_user(actor=actor, username=username, password=password, display_name=display_name,
                           phone=phone)
        if role:
            grant_role(actor=actor, user=user, role=role, scope=scope, scope_kind=scope_kind, scope_code=scope_code)
    return user


# --- API tokens: password sign-in for staff, expiry, revocation ------------------------------------

@dataclass
class IssuedToken:
    key: str
    expires_at: object  # datetime


def token_expires_at(token):
    return token.created + timedelta(seconds=settings.TOKEN_TTL)


def issue_token(*, user) -> IssuedToken:
    """The user's API token: the one they have while it is valid, else a new one (the expired one is
    deleted). One token per user: revoking it signs every app of that user out."""
    from rest_framework.authtoken.models import Token

    with transaction.atomic():
        token = Token.objects.select_for_update().filter(user=user).first()
        if token is not None and token_expires_at(token) <= timezone.now():
            token.delete()
            token = None
        if token is None:
            token = Token.objects.create(user=user)
    return IssuedToken(key=token.key, expires_at=token_expires_at(token))


def _is_staff_here(user) -> bool:
    from kernel.roles import STAFF_ROLES

    staff = set(STAFF_ROLES)
    return RoleAssignment.objects.filter(user=user, role__in=staff).exists()


def _lock_message(until) -> str:
    return _("Too many failed sign-ins. This account is locked until %(at)s; try again then.") % {
        "at": until.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")}


def password_sign_in(*, username: str, password: str) -> tuple[object, IssuedToken]:
    """Sign a staff member in with username and password and issue their API token.

    Wrong passwords are counted per account in the database: after ``SIGNIN_MAX_FAILURES`` the account
    is locked for ``SIGNIN_LOCK_SECONDS`` (the message says until when). Residents (no staff role) use
    the one-time code instead. Every failure, lock and success is audited."""
    from .models import SignInLock

    User = get_user_model()
    now = timezone.now()
    wrong = AuthError(_("Wrong username or password."), "signin_failed", status=400)
    error: AuthError | None = None
    with transaction.atomic():
        user = User.objects.filter(username=username).first()
        if user is None:
            User().set_password(password)  # the same work as a wrong password: no telling who exists
            raise wrong
        lock, _created = SignInLock.objects.select_for_update().get_or_create(user=user)
        if lock.locked_until and lock.locked_until > now:
            audit.record(actor=None, action="auth.password_locked_attempt", target=user,
                         after={"locked_until": lock.locked_until.isoformat()})
            error = AuthError(_lock_message(lock.locked_until), "signin_locked", status=429)
            error.retry_at = lock.locked_until
        elif not user.is_active or not user.check_password(password):
            if lock.locked_until:  # an old lock ran out: count afresh
                lock.failures, lock.locked_until = 0, None
            lock.failures += 1
            lock.last_failure_at = now
            after = {"failures": lock.failures}
            if lock.failures >= settings.SIGNIN_MAX_FAILURES:
                lock.locked_until = now + timedelta(seconds=settings.SIGNIN_LOCK_SECONDS)
                after["locked_until"] = lock.locked_until.isoformat()
                error = AuthError(_lock_message(lock.locked_until), "signin_locked", status=429)
                error.retry_at = lock.locked_until
            else:
                error = wrong
            lock.save()  # committed: failures count even though the sign-in is refused
            audit.record(actor=None, action="auth.password_failed", target=user, after=after)
        elif not _is_staff_here(user):
            error = AuthError(_("Password sign-in is for staff of this district. Residents sign in with a "
                                "one-time code sent to their phone."), "signin_not_staff", status=403)
        else:
            if lock.failures or lock.locked_until:
                lock.failures, lock.locked_until = 0, None
                lock.save()
            issued = issue_token(user=user)
            audit.record(actor=user, action="auth.password_sign_in", target=user,
                         after={"expires_at": issued.expires_at.isoformat()})
            return user, issued
    raise error


def revoke_tokens(*, actor, user) -> int:
    """Revoke the user's API token(s); every app signed in with it gets 401 from now on."""
    from rest_framework.authtoken.models import Token

    with transaction.atomic():
        count, _detail = Token.objects.filter(user=user).delete()
        audit.record(actor=actor, action="auth.token_revoked", target=user, after={"revoked": count})
    return count
