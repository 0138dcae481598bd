"""Every write of billing: plans, opening a district's account, webhook intake and its idempotent
handlers, the ladder (active → past due → suspended → active) and platform staff's override.
Stripe is called only through ``billing.gateway``; the district moves only through
``tenants.services.set_status`` with a reason naming the invoice."""
from __future__ import annotations

import datetime as dt
import json
import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Min, Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from billing import gateway
from billing.models import AccountState, BillingAccount, Invoice, Plan, UsageRecord, WebhookEvent
from kernel import audit, jobs
from kernel.errors import Conflict, DomainError
from kernel.models import JobStatus
from tenants.models import District

log = logging.getLogger(__name__)

PROCESS_EVENT_TASK = "billing.tasks.process_event"
PLAN_FIELDS = ("key", "name_zh", "name_en", "modules", "max_population", "amount_fen", "currency",
               "collection_method", "days_until_due", "grace_days", "records_usage", "usage_metered", "active")


# --- plans -------------------------------------------------------------------------------------------

def _clean_plan(plan: Plan) -> None:
    from tenants.services import check_modules

    try:
        plan.full_clean(exclude=["stripe_product_id", "stripe_plan_id"])
    except ValidationError as exc:
        fields = exc.message_dict
        first = next(iter(fields))
        raise DomainError(f"{first}: {fields[first][0]}", fields=fields)
    if plan.modules:
        plan.modules = check_modules(plan.modules)
    if plan.usage_metered and not plan.records_usage:
        message = _("A metered plan records usage: tick both.")
        raise DomainError(message, fields={"usage_metered": [message]})


def save_plan(*, actor, plan: Plan | None = None, **changes) -> Plan:
    """Create a plan or change one (finance). The Stripe plan is made first (a new amount is a new
    Stripe plan; subscriptions already running keep theirs until changed)."""
    unknown = set(changes) - set(PLAN_FIELDS)
    if unknown:
        raise DomainError(_("Unknown fields: %(f)s.") % {"f": ", ".join(sorted(unknown))})
    creating = plan is None
    if creating:
        plan = Plan()
    elif "key" in changes and changes["key"] != plan.key:
        message = _("A plan's key cannot change: make a new plan.")
        raise DomainError(message, fields={"key": [message]})
    before = {f: getattr(plan, f) for f in PLAN_FIELDS} if not creating else None
    for name, value in changes.items():
        setattr(plan, name, value)
    if creating and Plan.objects.filter(key=plan.key).exists():
        message = _("A plan with this key already exists.")
        raise Conflict(message, fields={"key": [message]})
    _clean_plan(plan)
    plan.stripe_product_id, plan.stripe_plan_id = gateway.ensure_plan(plan)
    with transaction.atomic():
        plan.save()
        audit.record(actor=actor, action="billing.plan.create" if creating else "billing.plan.change", target=plan,
                     before=before, after={f: getattr(plan, f) for f in PLAN_FIELDS})
    return plan


def default_plan() -> Plan:
    plan = Plan.objects.filter(key=settings.BILLING_DEFAULT_PLAN, active=True).first()
    plan = plan or Plan.objects.filter(active=True).order_by("amount_fen").first()
    if plan is None:
        raise DomainError(_("No billing plan exists: finance must make one first."), code="no_plan")
    return plan


def plan_for_key(key: str | None) -> Plan:
    plan = Plan.objects.filter(key=key, active=True).first() if key else None
    return plan or default_plan()


# --- opening a district's account (the provisioning step) -------------------------------------------

def open_account(*, actor, district: District, plan: Plan | str | None = None) -> BillingAccount:
    """Give ``district`` its Stripe customer and subscription on ``plan``. Idempotent: the ids already
    stored are used, Stripe is searched before anything is made, and each create carries an
    Idempotency-Key derived from the district, so a retry never makes a second customer."""
    plan = plan if isinstance(plan, Plan) else plan_for_key(plan)
    with transaction.atomic():
        account, made = BillingAccount.objects.select_for_update().get_or_create(district=district,
                                                                                 defaults={"plan": plan})
        if made:
            audit.record(actor=actor, action="billing.account.create", target=account,
                         after={"district": district.slug, "plan": plan.key})
    if account.stripe_subscription_id:
        return account
    plan = account.plan
    # Asked of Stripe each time a subscription is made (once per district): the stored ids may name a
    # plan Stripe no longer has (a new amount, or test-mode data that was reset).
    product, plan_id = gateway.ensure_plan(plan)
    if (product, plan_id) != (plan.stripe_product_id, plan.stripe_plan_id):
        Plan.objects.filter(pk=plan.pk).update(stripe_product_id=product, stripe_plan_id=plan_id)
        plan.stripe_product_id, plan.stripe_plan_id = product, plan_id
    customer_id = account.stripe_customer_id or gateway.find_or_create_customer(district)
    if not account.stripe_customer_id:
        BillingAccount.objects.filter(pk=account.pk).update(stripe_customer_id=customer_id)
    subscription = (gateway.find_subscription(customer_id)
                    or gateway.create_subscription(customer_id=customer_id, plan=plan, district=district))
    with transaction.atomic():
        account = BillingAccount.objects.select_for_update().get(pk=account.pk)
        now = timezone.now()
        account.stripe_customer_id = customer_id
        account.stripe_subscription_id = subscription["id"]
        account.subscription_status = subscription.get("status", "")
        account.subscription_as_of = now
        if account.state == AccountState.PENDING:
            account.state, account.state_as_of = AccountState.ACTIVE, now
        account.opened_at = account.opened_at or now
        account.save()
        audit.record(actor=actor, action="billing.account.open", target=account,
                     after={"customer": customer_id, "subscription": subscription["id"], "plan": plan.key})
    return account


# --- closing a district's account (before the lifecycle deletes the district) ------------------------

def close_account(*, actor, district: District, reason: str) -> BillingAccount | None:
    """Close ``district``'s billing before the district is deleted: its Stripe subscription is cancelled
    (through the gateway; one already cancelled is left as it is), the account marked closed with the
    reason, audit-logged. Idempotent: a closed account is returned unchanged; a district without an
    account gets None. The account, its invoices and usage stay (accounting retention): the lifecycle's
    delete then sets their district to NULL and they keep the copied slug and name.

    Stripe is called first and the account is written after, in the caller's transaction when there is
    one (the lifecycle's delete): if Stripe refuses, ``gateway.GatewayError`` is raised and nothing here
    is written. A cancel that went through before a later failure is found cancelled on the next try."""
    from tenants.services import require_reason

    reason = require_reason(reason)
    account = BillingAccount.objects.filter(district_id=district.pk).first()
    if account is None or account.state == AccountState.CLOSED:
        return account
    subscription = None
    if account.stripe_subscription_id:
        subscription = gateway.cancel_subscription(account.stripe_subscription_id)
    elif account.stripe_customer_id:  # opening stopped between Stripe's create and our save
        found = gateway.find_subscription(account.stripe_customer_id)
        subscription = gateway.cancel_subscription(found["id"]) if found else None
    with transaction.atomic():
        account = BillingAccount.objects.select_for_update().get(pk=account.pk)
        if account.state == AccountState.CLOSED:
            return account
        now = timezone.now()
        before = {"state": account.state, "subscription_status": account.subscription_status}
        account.state, account.state_as_of, account.closed_at = AccountState.CLOSED, now, now
        account.closed_reason = reason[:500]
        account.district_slug, account.district_name_zh = district.slug, district.name_zh
        if subscription is not None:
            account.stripe_subscription_id = subscription["id"]
            account.subscription_status = subscription.get("status") or "canceled"
            account.subscription_as_of = now
        account.save()
        audit.record(actor=actor, action="billing.account.close", target=account, before=before,
                     after={"state": AccountState.CLOSED, "district": district.slug,
                            "subscription": account.stripe_subscription_id or "",
                            "subscription_status": account.subscription_status, "reason": reason})
        UsageRecord.objects.filter(district_id=district.pk, district_slug="").update(
            district_slug=district.slug, district_name_zh=district.name_zh)
    return account


def before_district_delete(*, actor, district: District, reason: str) -> None:
    """kernel.lifecycle_hooks before-delete hook: billing is closed before the district goes."""
    close_account(actor=actor, district=district, reason=reason)


def is_closed(account: BillingAccount) -> bool:
    """A closed account (its district deleted, or about to be): the ladder, webhooks, reconcile and usage
    leave it alone."""
    return account.state == AccountState.CLOSED or account.district_id is None


def provisioning_step(run) -> dict:
    """kernel.lifecycle_hooks step ``billing`` (order 80): the new district's customer and subscription."""
    district = run.district
    plan_key = getattr(getattr(run, "application", None), "plan_key", None)
    account = open_account(actor=getattr(run, "actor", None), district=district, plan=plan_key)
    return {"plan": account.plan.key, "customer": account.stripe_customer_id,
            "subscription": account.stripe_subscription_id}


def billing_active(district) -> bool:
    """kernel.lifecycle_hooks check ``billing_active``: the district has a subscription in good standing."""
    return BillingAccount.objects.filter(district_id=district.pk, stripe_subscription_id__isnull=False,
                                         state__in=[AccountState.ACTIVE, AccountState.PAST_DUE]).exists()


# --- webhook intake ----------------------------------------------------------------------------------

class WebhookRejected(DomainError):
    code = "webhook_rejected"


def receive_event(*, payload: bytes, signature: str | None) -> tuple[WebhookEvent, bool]:
    """Verify a Stripe webhook (signature, tolerance, API version), store its event once by id, and queue
    it. Returns (event, stored now). A repeated delivery returns the stored event and does nothing."""
    import stripe

    try:
        event = gateway.verify_event(payload, signature)
    except stripe.SignatureVerificationError:
        raise WebhookRejected(_("The webhook signature is not valid."), code="bad_signature")
    except ValueError:
        raise WebhookRejected(_("The webhook body is not a Stripe event."), code="bad_payload")
    data = json.loads(payload)
    version = data.get("api_version") or ""
    if version not in settings.STRIPE_ACCEPTED_API_VERSIONS:
        raise WebhookRejected(_("Stripe API version %(v)s is not the pinned one.") % {"v": version or "-"},
                              code="bad_api_version")
    if not data.get("id") or not data.get("type"):
        raise WebhookRejected(_("The webhook body is not a Stripe event."), code="bad_payload")
    with transaction.atomic():
        row, made = WebhookEvent.objects.get_or_create(
            stripe_event_id=event.id,
            defaults={"type": data["type"], "created": gateway.ts(data.get("created")) or timezone.now(),
                      "api_version": version, "livemode": bool(data.get("livemode")), "payload": data})
        if made:
            jobs.queue(PROCESS_EVENT_TASK, row.pk)
    return row, made


def retry_event(*, actor, event: WebhookEvent) -> WebhookEvent:
    """Queue a failed event again (platform staff). An event that is not failed is left as it is."""
    with transaction.atomic():
        if WebhookEvent.objects.filter(pk=event.pk, status=JobStatus.FAILED).update(status=JobStatus.QUEUED):
            audit.record(actor=actor, action="billing.event.retry", target=event)
            jobs.queue(PROCESS_EVENT_TASK, event.pk)
    return WebhookEvent.objects.get(pk=event.pk)


def process_event(event: WebhookEvent) -> None:
    """The job's work (kernel.jobs): run the event's handler, then mark it done. Handlers are idempotent
    and order-safe, so running one again after a crash changes nothing."""
    WebhookEvent.objects.filter(pk=event.pk).update(attempts=event.attempts + 1)
    from billing import handlers

    outcome = handlers.handle(event)
    now = timezone.now()
    WebhookEvent.objects.filter(pk=event.pk).update(status=JobStatus.DONE, processed_at=now, finished_at=now,
                                                    outcome=(outcome or "")[:200], error="")


EVENT_KIND = jobs.JobKind(lock="billing.webhook", model=WebhookEvent, task=PROCESS_EVENT_TASK, work=process_event,
                          failed_action="billing.event.failed")


# --- the invoice mirror --------------------------------------------------------------------------------

def mirror_invoice(account: BillingAccount, data: dict, *, as_of: dt.datetime, failed_at: dt.datetime | None = None,
                   authoritative: bool = True) -> tuple[Invoice, list[str]]:
    """Write Stripe invoice ``data`` into the mirror (the caller holds the account's lock). A snapshot
    read from Stripe now (``authoritative``) always applies; one carried by an event applies only when
    it is newer than what the mirror knows (``as_of``). Returns the invoice and the fields changed."""
    transitions = data.get("status_transitions") or {}
    fields = {
        "number": data.get("number") or "",
        "amount_due": int(data.get("amount_due") or 0),
        "amount_paid": int(data.get("amount_paid") or 0),
        "currency": (data.get("currency") or "cny")[:3],
        "status": data.get("status") or "",
        "collection_method": data.get("collection_method") or "",
        "due_date": gateway.ts(data.get("due_date")) or _fallback_due(account, data),
        "paid_at": gateway.ts(transitions.get("paid_at")),
        "hosted_invoice_url": data.get("hosted_invoice_url") or "",
        "invoice_pdf": data.get("invoice_pdf") or "",
    }
    invoice = Invoice.objects.select_for_update().filter(stripe_invoice_id=data["id"]).first()
    changed: list[str] = []
    if invoice is None:
        invoice = Invoice(account=account, stripe_invoice_id=data["id"], as_of=as_of, **fields)
        changed = ["created"]
    elif authoritative or as_of >= invoice.as_of:
        for name, value in fields.items():
            if getattr(invoice, name) != value:
                setattr(invoice, name, value)
                changed.append(name)
        invoice.as_of = max(invoice.as_of, as_of)
    if invoice.status == "paid" or invoice.status in ("void", "uncollectible"):
        if invoice.payment_failed_at is not None:
            invoice.payment_failed_at = None
            changed.append("payment_failed_at")
    elif failed_at is not None and invoice.status == "open":
        if invoice.payment_failed_at is None or failed_at > invoice.payment_failed_at:
            invoice.payment_failed_at = failed_at
            changed.append("payment_failed_at")
    invoice.save()
    return invoice, changed


def _fallback_due(account: BillingAccount, data: dict) -> dt.datetime | None:
    """An open invoice without a due date (localstripe cannot set one): created + the plan's days."""
    if data.get("status") != "open" or account.plan.collection_method != Plan.Collection.SEND_INVOICE:
        return None
    created = gateway.ts(data.get("created") or data.get("date"))
    return created + dt.timedelta(days=account.plan.days_until_due) if created else None


# --- the ladder ------------------------------------------------------------------------------------------

def _invoice_label(invoice: Invoice | None) -> str:
    if invoice is None:
        return "-"
    return f"{invoice.number or invoice.stripe_invoice_id} ({invoice.amount_yuan} {invoice.currency.upper()})"


def evaluate(account: BillingAccount, now: dt.datetime | None = None) -> tuple[str, dt.datetime | None, str]:
    """Where the account belongs now, from its invoice mirror: (state, unpaid since, reason)."""
    now = now or timezone.now()
    unpaid = (account.invoices.filter(status="open")
              .filter(Q(payment_failed_at__isnull=False) | Q(due_date__lt=now))
              .annotate(since=Coalesce("payment_failed_at", "due_date")).order_by("since"))
    first = unpaid.first()
    if first is None:
        latest_paid = account.invoices.filter(status="paid").order_by("-paid_at", "-as_of").first()
        return AccountState.ACTIVE, None, f"billing: invoices paid, last {_invoice_label(latest_paid)}"
    since = unpaid.aggregate(s=Min("since"))["s"]
    why = ("payment failed" if first.payment_failed_at else "past its due date")
    if account.keep_active_until and account.keep_active_until >= timezone.localdate(now):
        return (AccountState.ACTIVE, since,
                f"billing: kept active until {account.keep_active_until} by platform staff "
                f"({account.override_reason}); invoice {_invoice_label(first)} {why}")
    grace = dt.timedelta(days=account.plan.grace_days)
    if since + grace <= now:
        return (AccountState.SUSPENDED, since,
                f"billing: invoice {_invoice_label(first)} unpaid since {since:%Y-%m-%d}, past the "
                f"{account.plan.grace_days}-day grace period of plan {account.plan.key}")
    return AccountState.PAST_DUE, since, f"billing: invoice {_invoice_label(first)} {why}"


DISTRICT_STATUS = {AccountState.ACTIVE: District.Status.ACTIVE, AccountState.PAST_DUE: District.Status.PAST_DUE,
                   AccountState.SUSPENDED: District.Status.SUSPENDED}
DRIVEN = (District.Status.ACTIVE, District.Status.PAST_DUE, District.Status.SUSPENDED)


def apply_ladder(account: BillingAccount, *, now: dt.datetime | None = None, actor=None) -> BillingAccount:
    """Put the account (and its district) where its invoices say. The caller's transaction holds the
    account's row lock. The district moves only between active, past due and suspended (a district being
    set up or archived is left alone); a suspension by hand (no unpaid invoice) is not undone here."""
    from tenants.services import ALLOWED_TRANSITIONS, set_status

    if account.state == AccountState.PENDING or is_closed(account):
        return account
    now = now or timezone.now()
    state, since, reason = evaluate(account, now)
    if state != account.state or since != account.past_due_since:
        before = account.state
        account.state, account.past_due_since, account.state_as_of = state, since, now
        account.save(update_fields=["state", "past_due_since", "state_as_of", "updated_at"])
        if before != state:
            audit.record(actor=actor, action="billing.account.state", target=account,
                         before={"state": before}, after={"state": state, "reason": reason})
    district = District.objects.get(pk=account.district_id)
    wanted = DISTRICT_STATUS[state]
    if district.status in DRIVEN and district.status != wanted:
        if not (district.status == District.Status.SUSPENDED and suspended_by_hand(district)):
            if wanted not in ALLOWED_TRANSITIONS.get(district.status, ()):  # suspended → past due: via active
                district = set_status(actor=actor, district=district, status=District.Status.ACTIVE, reason=reason)
            set_status(actor=actor, district=district, status=wanted, reason=reason)
    return account


def suspended_by_hand(district: District) -> bool:
    """A district suspended by platform staff (not by billing) stays suspended when its bills are paid."""
    from kernel.models import AuditEntry

    last = (AuditEntry.objects.filter(action="district.status", target_type="tenants.district",
                                      target_id=str(district.pk)).order_by("-id").first())
    if last is None or (last.after or {}).get("status") != District.Status.SUSPENDED:
        return False
    return not str((last.after or {}).get("reason", "")).startswith("billing:")


def run_ladder(now: dt.datetime | None = None) -> dict:
    """The hourly job: each opened account evaluated again (due dates pass, grace periods end, overrides
    expire). Returns how many accounts are in each state."""
    counts: dict[str, int] = {}
    opened = (BillingAccount.objects.exclude(state__in=[AccountState.PENDING, AccountState.CLOSED])
              .filter(district__isnull=False))
    for pk in opened.values_list("pk", flat=True):
        with transaction.atomic():
            account = BillingAccount.objects.select_for_update().select_related("plan").get(pk=pk)
            if is_closed(account):  # closed since the list was read
                continue
            apply_ladder(account, now=now)
            counts[account.state] = counts.get(account.state, 0) + 1
    return counts


def override(*, actor, account: BillingAccount, keep_active_until: dt.date | None, reason: str) -> BillingAccount:
    """Platform staff keep a district active until a day (or end the override with None), with a reason,
    audit-logged. The ladder respects it and takes over again the day after."""
    from tenants.services import require_reason

    reason = require_reason(reason)
    if keep_active_until is not None and keep_active_until < timezone.localdate():
        message = _("The day is in the past.")
        raise DomainError(message, fields={"keep_active_until": [message]})
    with transaction.atomic():
        account = BillingAccount.objects.select_for_update().select_related("plan").get(pk=account.pk)
        if is_closed(account):
            raise Conflict(_("This billing account is closed: its district was deleted."), code="account_closed")
        before = {"keep_active_until": str(account.keep_active_until or ""), "reason": account.override_reason}
        account.keep_active_until = keep_active_until
        account.override_reason = reason
        account.override_by = actor if getattr(actor, "pk", None) else None
        account.save(update_fields=["keep_active_until", "override_reason", "override_by", "updated_at"])
        audit.record(actor=actor, action="billing.override", target=account, before=before,
                     after={"keep_active_until": str(keep_active_until or ""), "reason": reason,
                            "district": account.district_slug})
        apply_ladder(account, actor=actor)
    return account
