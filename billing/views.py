"""Billing pages on the public site (console/base.html): finance edits plans and reads accounts,
invoices and reconcile reports; a vendor reads the invoices of its own districts; ops override the
ladder (reason + confirmation). Stripe's webhook is here too. Thin: parse, call a service, render."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from billing import selectors, services
from billing.models import Plan
from billing.reconcile import reconcile
from kernel.api import AnonThrottle
from kernel.errors import DomainError
from modules.catalog import catalog
from tenants.access import FINANCE, OPS, VENDOR, districts_for, has_platform_role, platform_role_required


def _page(request, qs, size: int = 50):
    return Paginator(qs, size).get_page(request.GET.get("page"))


# --- Stripe's webhook ----------------------------------------------------------------------------------

class WebhookAnswer(serializers.Serializer):
    received = serializers.BooleanField()
    id = serializers.CharField()
    duplicate = serializers.BooleanField(help_text="the event was stored before: nothing was done")


class WebhookThrottle(AnonThrottle):
    """Stripe's deliveries, by address: a rate of their own (``STRIPE_WEBHOOK_RATE``), above the anonymous one."""

    scope = "stripe_webhook"

    def get_rate(self):
        return settings.STRIPE_WEBHOOK_RATE


class StripeWebhook(APIView):
    """Stripe's webhook: 400 for a bad signature or an API version that is not the pinned one, 200 once
    stored (a repeat delivery: 200 and nothing done). Processing runs as a job. No session, no CSRF: the
    signature is the authentication."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [WebhookThrottle]
    parser_classes: list = []  # the raw body is verified as it came; nothing parses it before

    @extend_schema(request={"application/json": OpenApiTypes.OBJECT}, responses={200: WebhookAnswer},
                   description="Stripe's signed event (Stripe-Signature header).")
    def post(self, request):
        event, stored = services.receive_event(payload=request.body,
                                               signature=request.headers.get("Stripe-Signature"))
        return Response({"received": True, "id": event.stripe_event_id, "duplicate": not stored})


# --- pages ------------------------------------------------------------------------------------------------

@platform_role_required(OPS, FINANCE, VENDOR)
def index(request):
    """The billing home: the accounts for ops and finance, a vendor's districts' invoices for a vendor."""
    if has_platform_role(request.user, OPS, FINANCE):
        return accounts(request)
    return invoices(request)


@platform_role_required(OPS, FINANCE)
def plans(request):
    return render(request, "billing/plans.html", {"plans": selectors.plans(), "tab": "plans",
                                                  "can_edit": has_platform_role(request.user, FINANCE)})


def _plan_changes(post) -> tuple[dict, dict]:
    errors: dict[str, list[str]] = {}
    changes: dict = {"name_zh": post.get("name_zh", "").strip(), "name_en": post.get("name_en", "").strip(),
                     "modules": [k for k in post.getlist("modules") if k],
                     "collection_method": post.get("collection_method", ""),
                     "records_usage": post.get("records_usage") == "1", "usage_metered": post.get("usage_metered") == "1",
                     "active": post.get("active") == "1"}
    if "key" in post:
        changes["key"] = post.get("key", "").strip().lower()
    try:
        amount = Decimal(post.get("amount_yuan", "").strip())
        if amount < 0 or amount != amount.quantize(Decimal("0.01")) or amount > Decimal("10000000"):
            raise InvalidOperation
        changes["amount_fen"] = int(amount * 100)
    except (InvalidOperation, ValueError):
        errors["amount_yuan"] = [_("An amount in yuan, like 8000 or 8000.50.")]
    for name in ("days_until_due", "grace_days", "max_population"):
        raw = post.get(name, "").strip()
        if name == "max_population" and raw == "":
            changes[name] = None
            continue
        if not raw.isdigit() or int(raw) > 1_000_000_000:
            errors[name] = [_("A whole number.")]
        else:
            changes[name] = int(raw)
    return changes, errors


@platform_role_required(FINANCE)
@require_http_methods(["GET", "POST"])
def plan_edit(request):
    """``?key=<plan>`` edits that plan; without it, a new plan."""
    key = request.GET.get("key", "")
    plan = get_object_or_404(Plan, key=key) if key else None
    errors: dict = {}
    if request.method == "POST":
        changes, errors = _plan_changes(request.POST)
        if plan is not None:
            changes.pop("key", None)
        if not errors:
            try:
                plan = services.save_plan(actor=request.user, plan=plan, **changes)
                messages.success(request, _("Saved."))
                return redirect("billing:plans")
            except DomainError as exc:
                errors = exc.fields or {"": [exc.message]}
    return render(request, "billing/plan_edit.html", {
        "plan": plan, "errors": errors, "post": request.POST if request.method == "POST" else None,
        "modules": list(catalog), "collections": Plan.Collection.choices, "tab": "plans"})


@platform_role_required(OPS, FINANCE)
def accounts(request):
    qs = selectors.accounts_for(request.user)
    state = request.GET.get("state", "")
    if state:
        qs = qs.filter(state=state)
    return render(request, "billing/accounts.html", {"page": _page(request, qs), "state": state, "tab": "accounts"})


@platform_role_required(OPS, FINANCE, VENDOR)
def account(request, slug: str):
    """A district's billing (one the caller may see; else 404): plan, state, invoices, usage, override."""
    district = get_object_or_404(districts_for(request.user), slug=slug)
    acct = selectors.accounts_for(request.user).filter(district=district).first()
    invoices = selectors.invoices_for(request.user).filter(account__district=district)
    return render(request, "billing/account.html", {
        "district": district, "account": acct, "invoices": _page(request, invoices),
        "usage": district.usage_records.all()[:12],
        "can_override": bool(acct) and has_platform_role(request.user, OPS), "today": dt.date.today().isoformat(),
        "tab": "accounts"})


@platform_role_required(OPS)
@require_POST
def account_override(request, slug: str):
    from console.views import confirmed

    acct = get_object_or_404(selectors.accounts_for(request.user), district__slug=slug)
    if not confirmed(request):
        messages.error(request, _("Tick the box to confirm: nothing was changed."))
        return redirect("billing:account", slug=slug)
    until = None
    if request.POST.get("name") != "end":
        try:
            until = dt.date.fromisoformat(request.POST.get("keep_active_until", ""))
        except ValueError:
            messages.error(request, _("Give the last day to keep the district active."))
            return redirect("billing:account", slug=slug)
    try:
        services.override(actor=request.user, account=acct, keep_active_until=until,
                          reason=request.POST.get("reason", ""))
        messages.success(request, _("Saved."))
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("billing:account", slug=slug)


@platform_role_required(OPS, FINANCE, VENDOR)
def invoices(request):
    qs = selectors.invoices_for(request.user)
    return render(request, "billing/invoices.html", {"page": _page(request, qs), "tab": "invoices"})


@platform_role_required(OPS, FINANCE)
@require_http_methods(["GET", "POST"])
def reports(request):
    if request.method == "POST":
        try:
            report = reconcile(actor=request.user)
            return HttpResponseRedirect(f"/billing/reconcile/?report={report.pk}")
        except DomainError as exc:
            messages.error(request, exc.message)
    shown = None
    if request.GET.get("report"):
        raw = request.GET["report"]
        shown = get_object_or_404(selectors.reports(), pk=int(raw) if raw.isdigit() else 0)
    return render(request, "billing/reports.html", {"page": _page(request, selectors.reports()), "report": shown,
                                                    "tab": "reconcile"})


@platform_role_required(OPS, FINANCE)
def events(request):
    return render(request, "billing/events.html", {"page": _page(request, selectors.events()), "tab": "events",
                                                   "can_retry": has_platform_role(request.user, OPS)})


@platform_role_required(OPS)
@require_POST
def event_retry(request):
    """Run a failed Stripe event again (its handlers are idempotent). The event's id is in the form."""
    raw = request.POST.get("event", "")
    event = get_object_or_404(selectors.events(), pk=int(raw) if raw.isdigit() else 0)
    event = services.retry_event(actor=request.user, event=event)
    messages.success(request, f"{event.stripe_event_id}: {event.get_status_display()}")
    return redirect("billing:events")
