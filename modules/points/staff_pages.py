"""What the points staff pages share (mounted at /points/staff/, views in each sub-package): the tabs,
rendering, a refused write shown on the form, form tokens (a second submit goes where the first went).

Thin, like every page of the portal: parse the form, call a service (writes) or a selector (reads),
render. A refused write comes back as the form with the service's message and per-field errors, with
the service's status (400/403/409); nothing is saved. Full ID and phone numbers are never shown:
residents appear with a masked phone and their address."""
from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from kernel import idempotency
from kernel.errors import DomainError
from kernel.permissions import has_role
from kernel.roles import Role
from modules.points.ledger import services as ledger
from modules.points.models import (
    Batch,
    CapPeriod,
    Direction,
    RuleVersion,
)

POSTERS = ledger.POSTER_ROLES
DECIDERS = (Role.COMMITTEE_MEMBER, Role.DISTRICT_ADMIN)
EDITORS = ledger.RULE_EDITORS
PAGE_SIZE = 20
FORM_TOKENS = "points_staff_tokens"  # session: form token -> what it made (a second submit goes there)
ACTIVE = (Batch.Status.QUEUED, Batch.Status.RUNNING)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --- helpers ------------------------------------------------------------------------------------------

def _tabs(user, on: str) -> list[dict]:
    tabs = [("propose", "points:propose", _("Propose points"), POSTERS),
            ("committee", "points:committee", _("Committee"), DECIDERS),
            ("batches", "points:batches", _("Award batches"), POSTERS),
            ("rules", "points:rules", _("Rulebook"), EDITORS)]
    return [{"key": k, "url": reverse(name), "label": label, "on": k == on}
            for k, name, label, roles in tabs if has_role(user, *roles)]


def _render(request, template: str, ctx: dict, *, tab: str, status: int = 200):
    ctx = {"tabs": _tabs(request.user, tab), "tab": tab, **ctx}
    return render(request, f"points/staff/{template}", ctx, status=status)


def _fail(request, exc: DomainError) -> dict:
    """Show the service's message; return its per-field errors for the form."""
    if exc.status == 404:
        raise Http404(exc.message)
    messages.error(request, exc.message)
    return {k: list(v) for k, v in (exc.fields or {}).items()}


def _pk(raw) -> int | None:
    text = str(raw or "").strip()
    return int(text) if text.isdigit() and len(text) <= 18 else None


def _session_key(token: str) -> str | None:
    """A form's token as the session keeps it: whole, hashed (kernel.idempotency; 400 over the limit)."""
    token = idempotency.clean_key(token)
    return idempotency.stored_key("points.staff-form", token) if token else None


def _remember_token(request, token: str, target: str) -> None:
    key = _session_key(token)
    if key:
        tokens = dict(request.session.get(FORM_TOKENS, {}))
        tokens[key] = target
        request.session[FORM_TOKENS] = dict(list(tokens.items())[-20:])


def _used_token(request, token: str) -> str | None:
    key = _session_key(token)
    return request.session.get(FORM_TOKENS, {}).get(key) if key else None


def _signed(points: int) -> str:
    return f"{points:+d}"


def _version_of(code: str) -> RuleVersion | None:
    code = (code or "").strip()
    if not code:
        return None
    return ledger.current_version(code)


def _rule_options(rules: list[RuleVersion]) -> list[dict]:
    out = []
    for v in rules:
        cap = ""
        if v.cap_period:
            parts = []
            if v.cap_count:
                parts.append(ngettext("%(n)d time", "%(n)d times", v.cap_count) % {"n": v.cap_count})
            if v.cap_points:
                parts.append(ngettext("%(n)d point", "%(n)d points", v.cap_points) % {"n": v.cap_points})
            cap = f"{' / '.join(parts)} {CapPeriod(v.cap_period).label}"
        out.append({"v": v, "code": v.rule.code, "sign": "+" if v.direction == Direction.ADD else "−", "cap": cap})
    return out
