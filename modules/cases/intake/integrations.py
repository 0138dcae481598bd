"""Integrations: the 12345 hotline, the citizen mailbox and Open311 clients file cases with a key of
their own and hear back through a signed webhook.

A key is ``msk_<prefix>_<secret>``: the prefix tells keys apart in lists and logs, only the SHA-256 of
the whole key is kept (keys are 256-bit random, so a plain hash is enough), and the key is shown once,
when it is made or rotated.

A webhook URL must be http(s), carry no credentials and not point inside the platform's network
(kernel/netguard.py); it is checked when saved and again at every delivery."""
from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kernel import audit, netguard
from kernel.errors import DomainError
from kernel.permissions import require_admin
from kernel.personal import decrypt, encrypt
from kernel.text import text_problem
from modules.cases.models import Integration

KEY_PREFIX = "msk_"


def _hash(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def _new_key() -> tuple[str, str]:
    prefix = secrets.token_hex(4)
    return prefix, f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"


def _require_admin(actor) -> None:
    require_admin(actor, _("Only district administrators manage integrations."))


def _check(name: str, kind: str, webhook_url: str) -> tuple[str, str]:
    fields = {}
    name, problem = text_problem(name, max_length=80)  # kernel.text; "12345" (the hotline) is a fine name
    if problem:
        fields["name"] = [_("Give the integration a name of at most 80 characters.") if not name else problem]
    if kind not in Integration.Kind.values:
        fields["kind"] = [_("One of: %(kinds)s.") % {"kinds": ", ".join(Integration.Kind.values)}]
    webhook_url = (webhook_url or "").strip()
    if len(webhook_url) > Integration._meta.get_field("webhook_url").max_length:
        fields["webhook_url"] = [_("At most %(limit)d characters.") % {
            "limit": Integration._meta.get_field("webhook_url").max_length}]
    elif webhook_url:
        try:
            netguard.check_url(webhook_url, allowed=webhook_allowed())
        except netguard.Refused as exc:
            fields["webhook_url"] = [str(exc)]
    if fields:
        raise DomainError(next(iter(fields.values()))[0], fields=fields)
    return name, webhook_url


def create_integration(*, actor, name: str, kind: str, webhook_url: str = "") -> tuple[Integration, str]:
    """Make an integration; returns it and its key (shown once) — the webhook secret is readable
    again through ``webhook_secret``."""
    _require_admin(actor)
    name, webhook_url = _check(name, kind, webhook_url)
    prefix, key = _new_key()
    with transaction.atomic():
        integration = Integration.objects.create(
            name=name, kind=kind, key_prefix=prefix, key_hash=_hash(key), webhook_url=webhook_url,
            webhook_secret_encrypted=encrypt(secrets.token_urlsafe(32)), created_at=timezone.now(),
            created_by=actor)
        audit.record(actor=actor, action="cases.integration.create", target=integration,
                     after={"name": name, "kind": kind, "key_prefix": prefix, "webhook_url": webhook_url})
    return integration, key


def rotate_key(*, actor, integration: Integration) -> str:
    """A new key; the old one stops working at once."""
    _require_admin(actor)
    prefix, key = _new_key()
    with transaction.atomic():
        before = integration.key_prefix
        integration.key_prefix, integration.key_hash = prefix, _hash(key)
        integration.save(update_fields=["key_prefix", "key_hash"])
        audit.record(actor=actor, action="cases.integration.rotate_key", target=integration,
                     before={"key_prefix": before}, after={"key_prefix": prefix})
    return key


def update_integration(*, actor, integration: Integration, name: str | None = None, webhook_url: str | None = None,
                       active: bool | None = None) -> Integration:
    _require_admin(actor)
    name, webhook_url = _check(integration.name if name is None else name, integration.kind,
                               integration.webhook_url if webhook_url is None else webhook_url)
    with transaction.atomic():
        before = {"name": integration.name, "webhook_url": integration.webhook_url, "active": integration.active}
        integration.name, integration.webhook_url = name, webhook_url
        if active is not None:
            integration.active = bool(active)
        integration.save(update_fields=["name", "webhook_url", "active"])
        audit.record(actor=actor, action="cases.integration.update", target=integration, before=before,
                     after={"name": name, "webhook_url": webhook_url, "active": integration.active})
    return integration


def authenticate(raw_key: str) -> Integration | None:
    """The active integration holding this key, or None. Constant-time on the hash."""
    raw_key = (raw_key or "").strip()
    if not raw_key.startswith(KEY_PREFIX):
        return None
    digest = _hash(raw_key)
    integration = Integration.objects.filter(key_hash=digest, active=True).first()
    if integration is None or not hmac.compare_digest(integration.key_hash, digest):
        return None
    now = timezone.now()
    if integration.last_used_at is None or (now - integration.last_used_at).total_seconds() > 60:
        Integration.objects.filter(pk=integration.pk).update(last_used_at=now)
    return integration


def webhook_allowed() -> netguard.Allowed:
    """Internal hosts the platform operator lets webhooks reach (settings.WEBHOOK_ALLOWED_HOSTS)."""
    return netguard.Allowed.parse(settings.WEBHOOK_ALLOWED_HOSTS)


def webhook_secret(integration: Integration) -> str:
    return decrypt(integration.webhook_secret_encrypted) if integration.webhook_secret_encrypted else ""


def reveal_webhook_secret(*, actor, integration: Integration) -> str:
    """The secret an integration checks our webhook signatures with; every look is in the audit log."""
    _require_admin(actor)
    with transaction.atomic():
        audit.record(actor=actor, action="cases.integration.reveal_secret", target=integration,
                     after={"key_prefix": integration.key_prefix})
        return webhook_secret(integration)
