"""Extension points of a district's life, registered without imports (like codes.actions.register_action):

- **provisioning steps**: what approving an application does, step by step (onboarding runs them as one
  recorded, retryable job; each step's state is kept, so a retry skips the steps that are done).
  The platform registers schema/domain/modules/rules/branding; ``accounts`` the first administrator's
  invitation; ``billing`` the Stripe customer and subscription.
- **set-up checks**: the go-live checklist of a district, computed from real state (the administrator
  signed in, the ledger imported, the responsibility list set, the first codes printed, billing
  active). Modules and platform apps register theirs in their AppConfig.ready().
- **before-delete hooks**: what must be settled outside the district's schema before the lifecycle
  deletes a district (``billing`` cancels the Stripe subscription and closes the account). Each
  ``fn(*, actor, district, reason)`` is called by ``tenants.lifecycle.services.delete_district`` inside
  its transaction, after the deletion was found allowed and before the schema is dropped. It must be
  idempotent (a delete refused later is tried again) and raise ``kernel.errors.DomainError`` to refuse
  the deletion: the whole delete is then rolled back and the error shown.

A step's ``run(run)`` gets the provisioning run (``run.application``, ``run.district`` once made,
``run.actor``) and returns a small dict recorded with the step (shown to the vendor). It must be
idempotent: after a crash it is called again and finds its own work done (look it up, don't redo it).
It raises to fail; the run stops there, keeps the steps done, and can be retried.

A check's ``done(district)`` runs in the district's schema (tenant_context) and returns True/False;
``where`` is the path of the page that fixes it (on the district's domain), shown as a link.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ProvisioningStep:
    key: str
    order: int  # steps run in this order (schema 10, domain 20, … admin invite 70, billing 80)
    label_zh: str
    label_en: str
    run: Callable[[object], dict | None]


@dataclass(frozen=True)
class SetupCheck:
    key: str
    order: int
    label_zh: str
    label_en: str
    done: Callable[[object], bool]
    where: str = ""  # path on the district's domain where it is done ("" none)
    module: str = ""  # counted only when the district has this module on ("" always)


_steps: dict[str, ProvisioningStep] = {}
_checks: dict[str, SetupCheck] = {}


def register_step(step: ProvisioningStep) -> None:
    _steps[step.key] = step


def provisioning_steps() -> list[ProvisioningStep]:
    return sorted(_steps.values(), key=lambda s: (s.order, s.key))


def register_check(check: SetupCheck) -> None:
    _checks[check.key] = check


def setup_checks(district=None) -> list[SetupCheck]:
    """The checks that apply to ``district`` (all of them when None), in order."""
    checks = sorted(_checks.values(), key=lambda c: (c.order, c.key))
    if district is None:
        return checks
    return [c for c in checks if not c.module or district.has_module(c.module)]


_before_delete: dict[str, Callable[..., None]] = {}


def register_before_delete(fn: Callable[..., None], key: str | None = None) -> None:
    """Register ``fn(*, actor, district, reason)`` to run before a district is deleted (idempotent:
    registering the same function again replaces it)."""
    _before_delete[key or f"{fn.__module__}.{fn.__qualname__}"] = fn


def before_delete_hooks() -> list[Callable[..., None]]:
    return [_before_delete[k] for k in sorted(_before_delete)]
