"""The daily reconciliation: each opened account compared with Stripe (subscription status, every
invoice), the mirror fixed, the ladder applied, and the differences kept in a ``ReconcileReport``."""
from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from billing import gateway
from billing.models import AccountState, BillingAccount, ReconcileReport
from billing.services import DISTRICT_STATUS, DRIVEN, apply_ladder, mirror_invoice
from kernel import audit
from tenants.models import District

WATCHED = ("status", "amount_due", "amount_paid", "due_date", "number")


def reconcile(*, actor=None, now=None) -> ReconcileReport:
    """``now``: the time the ladder judges by (default: now)."""
    report = ReconcileReport.objects.create()
    differences, errors, checked = [], [], 0
    accounts = BillingAccount.objects.exclude(stripe_customer_id=None).values_list("pk", flat=True)
    for pk in accounts:
        checked += 1
        try:
            differences.extend(_reconcile_one(pk, now or timezone.now()))
        except gateway.GatewayError as exc:
            errors.append({"account": pk, "error": exc.message})
    with transaction.atomic():
        report.finished_at = timezone.now()
        report.accounts_checked, report.differences, report.errors = checked, differences, errors
        report.save()
        audit.record(actor=actor, action="billing.reconcile", target=report,
                     after={"checked": checked, "differences": len(differences), "errors": len(errors)})
    return report


def _reconcile_one(pk: int, now) -> list[dict]:
    account = BillingAccount.objects.select_related("district").get(pk=pk)
    remote_invoices = gateway.list_invoices(account.stripe_customer_id)
    remote_sub = (gateway.retrieve_subscription(account.stripe_subscription_id)
                  if account.stripe_subscription_id else None)
    found: list[dict] = []
    slug = account.district.slug
    with transaction.atomic():
        account = BillingAccount.objects.select_for_update().select_related("plan", "district").get(pk=pk)
        if remote_sub is not None and remote_sub.get("status", "") != account.subscription_status:
            found.append({"district": slug, "what": "subscription.status", "object": account.stripe_subscription_id,
                          "local": account.subscription_status, "stripe": remote_sub.get("status", "")})
            account.subscription_status, account.subscription_as_of = remote_sub.get("status", ""), now
            account.save(update_fields=["subscription_status", "subscription_as_of", "updated_at"])
        local = {i.stripe_invoice_id: i for i in account.invoices.all()}
        for data in remote_invoices:
            before = local.get(data["id"])
            snapshot = {f: getattr(before, f) for f in WATCHED} if before else None
            invoice, changed = mirror_invoice(account, data, as_of=timezone.now())
            if before is None:
                found.append({"district": slug, "what": "invoice.missing", "object": data["id"],
                              "local": None, "stripe": invoice.status})
                continue
            for name in WATCHED:
                if snapshot[name] != getattr(invoice, name):
                    found.append({"district": slug, "what": f"invoice.{name}", "object": data["id"],
                                  "local": str(snapshot[name]), "stripe": str(getattr(invoice, name))})
        state_before = account.state
        district_before = District.objects.get(pk=account.district_id).status
        apply_ladder(account, now=now)
        if account.state != state_before:
            found.append({"district": slug, "what": "account.state", "object": str(account.pk),
                          "local": state_before, "stripe": account.state})
        if account.state != AccountState.PENDING and district_before in DRIVEN:
            district_after = District.objects.get(pk=account.district_id).status
            if district_after != district_before or district_before != DISTRICT_STATUS[account.state]:
                found.append({"district": slug, "what": "district.status", "object": slug,
                              "local": district_before, "stripe": district_after})
    return found
