"""The audit log. Every service calls ``record`` inside its own transaction."""
from __future__ import annotations

from django.db import transaction

from kernel.context import request_id
from kernel.models import AuditEntry


def _label(actor) -> str:
    if actor is None:
        return "system"
    return getattr(actor, "username", None) or str(actor)


def record(*, actor, action: str, target=None, target_type: str = "", target_id: str = "",
           before: dict | None = None, after: dict | None = None) -> AuditEntry:
    conn = transaction.get_connection()
    if not conn.in_atomic_block:
        raise RuntimeError("audit.record must run inside the service's transaction")
    if target is not None:
        target_type = target_type or f"{target._meta.app_label}.{target._meta.model_name}"
        target_id = target_id or str(target.pk)
    return AuditEntry.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=_label(actor)[:150],
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        before=before,
        after=after,
        request_id=request_id.get(),
    )
