"""Reads of billing, always narrowed by who asks: ops and finance see every district, a vendor only the
districts it rolled out (tenants.access.for_vendor_of), a district admin only its own district."""
from __future__ import annotations

from django.db.models import QuerySet

from billing.models import BillingAccount, Invoice, Plan, ReconcileReport, UsageRecord, WebhookEvent
from tenants.access import for_vendor_of


def plans() -> QuerySet[Plan]:
    return Plan.objects.all()


def accounts_for(user) -> QuerySet[BillingAccount]:
    qs = BillingAccount.objects.select_related("district", "district__vendor", "plan").order_by("district__slug")
    return for_vendor_of(user, qs, field="district__vendor")


def invoices_for(user) -> QuerySet[Invoice]:
    qs = Invoice.objects.select_related("account__district", "account__district__vendor").order_by("-created_at", "-id")
    return for_vendor_of(user, qs, field="account__district__vendor")


def account_of_district(district) -> BillingAccount | None:
    """The billing account of ``district`` (the district host: its own, found by the tenant, never by id)."""
    return BillingAccount.objects.select_related("plan").filter(district_id=district.pk).first()


def invoices_of_district(district) -> QuerySet[Invoice]:
    return Invoice.objects.filter(account__district_id=district.pk).order_by("-created_at", "-id")


def usage_of_district(district) -> QuerySet[UsageRecord]:
    return UsageRecord.objects.filter(district_id=district.pk).order_by("-month")


def reports() -> QuerySet[ReconcileReport]:
    return ReconcileReport.objects.all()


def events() -> QuerySet[WebhookEvent]:
    return WebhookEvent.objects.all()
