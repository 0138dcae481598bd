"""Open billing (Stripe customer + subscription) for districts that have none yet: the demo and
districts made before billing existed. Idempotent: a district already opened is left as it is.

    manage.py billing_open [--district kangbashi] [--plan standard] [--reconcile]
"""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.models import Q

from billing.services import open_account
from kernel.errors import DomainError
from tenants.models import District


class Command(BaseCommand):
    help = "Open billing for districts without a Stripe subscription (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--district", action="append", default=[], help="slug (repeatable); default: all")
        parser.add_argument("--plan", default=None, help="plan key (default: BILLING_DEFAULT_PLAN)")
        parser.add_argument("--reconcile", action="store_true", help="reconcile with Stripe afterwards")

    def handle(self, *args, district, plan, reconcile, **options):
        connection.set_schema_to_public()
        qs = (District.objects.exclude(schema_name="public").exclude(status__in=["spare", "archived"])
              .filter(Q(billing_account__isnull=True) | Q(billing_account__stripe_subscription_id__isnull=True)))
        if district:
            qs = qs.filter(slug__in=district)
        for d in qs.order_by("slug"):
            try:
                account = open_account(actor=None, district=d, plan=plan)
            except DomainError as exc:
                raise CommandError(f"{d.slug}: {exc.message}")
            self.stdout.write(f"{d.slug}: {account.plan.key} {account.stripe_customer_id} {account.stripe_subscription_id}")
        if reconcile:
            from billing.reconcile import reconcile as run

            report = run()
            self.stdout.write(f"reconciled: {report.accounts_checked} accounts, {len(report.differences)} differences")
