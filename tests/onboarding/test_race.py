"""Two vendors racing for one slug and domain, in two real concurrent transactions: one wins, the other
gets a clear 409 Conflict, never two open applications claiming one address. (Committed data: no
``db`` transaction here; everything made is deleted at the end.)"""
from __future__ import annotations

import threading

from django.db import connection, transaction

from kernel.errors import Conflict
from onboarding.services import rules
from tests.onboarding.conftest import application_data


def test_two_vendors_racing_for_one_slug_get_one_application_and_one_409(django_db_blocker, monkeypatch):
    from accounts.models import User
    from kernel.models import AuditEntry
    from onboarding.models import Application
    from onboarding.services import create_application
    from tenants.models import Vendor
    from tenants.services import create_vendor, grant_platform_role

    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        last_audit = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
        pairs = []
        try:
            for tag in ("a", "b"):
                vendor = create_vendor(actor=None, slug=f"race-{tag}", name_zh=f"竞速{tag}")
                with transaction.atomic():
                    user = User.objects.create(username=f"race-{tag}")
                grant_platform_role(actor=None, user=user, role="vendor", vendor=vendor)
                pairs.append((vendor, user))

            both_checked = threading.Barrier(2)
            original = rules.check_free

            def check_then_wait(*args, **kwargs):
                original(*args, **kwargs)  # both find the name free …
                both_checked.wait(timeout=20)  # … before either inserts

            monkeypatch.setattr(rules, "check_free", check_then_wait)
            results: list = []

            def file(vendor, user):
                try:
                    connection.set_schema_to_public()
                    app = create_application(actor=user, vendor=vendor,
                                             data=application_data(slug="race-city", domain="race.example.cn"))
                    results.append(("filed", app.pk))
                except Conflict as exc:
                    results.append(("conflict", exc.status, sorted(exc.fields)))
                except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                    results.append(("error", repr(exc)))
                finally:
                    connection.close()

            threads = [threading.Thread(target=file, args=pair) for pair in pairs]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            kinds = sorted(r[0] for r in results)
            assert kinds == ["conflict", "filed"], results
            conflict = next(r for r in results if r[0] == "conflict")
            assert conflict[1] == 409 and conflict[2] in (["slug"], ["domain"])
            assert Application.objects.filter(slug="race-city").count() == 1
        finally:
            from tenants.models import PlatformMembership

            Application.objects.filter(vendor__slug__in=["race-a", "race-b"]).delete()
            AuditEntry.objects.filter(id__gt=last_audit).delete()
            PlatformMembership.objects.filter(user__username__in=["race-a", "race-b"]).delete()
            # raw: the collector would look for district-only tables (notifications) from the public schema
            User.objects.filter(username__in=["race-a", "race-b"])._raw_delete(using="default")
            Vendor.objects.filter(slug__in=["race-a", "race-b"]).delete()
