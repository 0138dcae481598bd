"""Reads of billing, always narrowed by who asks: ops and finance see every district, a vendor only the
districts it rolled out (tenants.access.for_vendor_of), a district admin only its own district.
A row whose district was deleted (district NULL, the slug kept) has no vendor, so only ops and finance
see it."""
from __future__ import annotations

from django.db.models import QuerySet

from billing.models import BillingAccount, Invoice, Plan, ReconcileReport, UsageRecord, WebhookEvent
from tenants.access import for_vendor_of


def plans() -> QuerySet[Plan]:
    return Plan.objects.all()


def accounts_for(user) -> QuerySet[BillingAccount]:
    qs = BillingAccount.objects.select_related("district", "district__vendor", "plan").order_by("district_slug", "id")
    return for_vendor_of(user, qs, field="district__vendor")


def account_by_slug(user, slug: str) -> BillingAccount | None:
    """The account named ``slug`` that ``user`` may see: the living district's, else (ops and finance:
    a vendor never sees a row without a district) the newest closed account of a deleted district."""
    qs = accounts_for(user)
    return (qs.filter(district__slug=slug).first()
            or qs.filter(district__isnull=True, district_slug=slug).order_by("-closed_at", "-id").first())


def usage_for(user) -> QuerySet[UsageRecord]:
    qs = UsageRecord.objects.select_related("district").order_by("-month", "district_slug", "id")
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
