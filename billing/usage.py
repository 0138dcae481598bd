"""Monthly usage of the districts whose plan records it, from real counts read inside each district's
schema: residents bound (a resident with a sign-in account and a current household) and active users
(the district's users who signed in during the month). One row per district and month (updated while the
month runs); a finished month of a metered plan is reported to Stripe once, through the gateway."""
from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from billing import gateway
from billing.models import BillingAccount, UsageRecord
from kernel import audit


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def next_month(first: dt.date) -> dt.date:
    return (first + dt.timedelta(days=32)).replace(day=1)


def count(district, month: dt.date) -> dict:
    from django.contrib.auth import get_user_model

    from modules.registry.models import Resident

    tz = timezone.get_current_timezone()
    start = dt.datetime.combine(month, dt.time.min, tzinfo=tz)
    end = dt.datetime.combine(next_month(month), dt.time.min, tzinfo=tz)
    with tenant_context(district):
        bound = (Resident.objects.filter(user__isnull=False, memberships__ended_at__isnull=True)
                 .values("pk").distinct().count())
        active = get_user_model().objects.filter(is_active=True, last_login__gte=start, last_login__lt=end).count()
    return {"residents_bound": bound, "active_users": active}


def record_usage(*, month: dt.date | None = None, actor=None) -> list[UsageRecord]:
    """Count ``month`` (default: this month) for every account whose plan records usage, and report every
    finished month not yet reported for metered plans. Running it again updates, never doubles."""
    month = month_start(month or timezone.localdate())
    done = []
    accounts = (BillingAccount.objects.filter(plan__records_usage=True).exclude(stripe_customer_id=None)
                .select_related("plan", "district"))
    for account in accounts:
        counts = count(account.district, month)
        with transaction.atomic():
            record, made = UsageRecord.objects.select_for_update().get_or_create(
                district=account.district, month=month, defaults=counts)
            changed = not made and record.reported_at is None and any(
                getattr(record, k) != v for k, v in counts.items())
            if changed:
                UsageRecord.objects.filter(pk=record.pk).update(**counts, counted_at=timezone.now())
                record.refresh_from_db()
            if made or changed:
                audit.record(actor=actor, action="billing.usage", target=record,
                             after={"district": account.district.slug, "month": str(month), **counts})
        done.append(record)
        if account.plan.usage_metered:
            report_finished(account, before=month)
    return done


def report_finished(account: BillingAccount, *, before: dt.date) -> None:
    pending = UsageRecord.objects.filter(district=account.district, month__lt=before, reported_at__isnull=True)
    for record in pending:
        identifier = f"{account.district.slug}-{record.month:%Y-%m}"
        at = dt.datetime.combine(next_month(record.month), dt.time.min, tzinfo=dt.UTC) - dt.timedelta(seconds=1)
        words = gateway.report_usage(customer_id=account.stripe_customer_id, value=record.residents_bound,
                                     identifier=identifier, timestamp=at)
        with transaction.atomic():
            UsageRecord.objects.filter(pk=record.pk, reported_at__isnull=True).update(
                reported_at=timezone.now(), report=words[:200])
