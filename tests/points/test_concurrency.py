"""Caps hold under concurrency: two connections post at the same moment (committed data, so no
test transaction around it)."""
import threading

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from kernel.errors import Conflict
from modules.points.ledger import rules as rulebook
from modules.points.ledger import services as ledger
from modules.points.models import Balance, Entry
from tests.points.conftest import assert_ledger_consistent


@pytest.mark.worker
def test_two_concurrent_postings_cannot_both_pass_a_cap(django_db_blocker):
    """Four staff post the once-a-day rule for the same resident at the same moment: the balance row
    lock makes the second one see the first, so exactly one is posted. Committed in the "worker"
    district (entries cannot be deleted; the names are unique per run)."""
    import secrets

    from modules.registry import services as registry
    from tenants.models import District
    from tests.conftest import admin_of

    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        district = District.objects.get(slug="worker")
        admin = admin_of(district)
        tag = secrets.token_hex(3)
        with tenant_context(district):
            resident = registry.register_resident(actor=None, name=f"并发{tag}")
            rulebook.create_rule(actor=admin, code=f"t_once_{tag}", name_zh="每日一次", direction="add",
                                 category="test", min_points=1, max_points=5, cap_period="day", cap_count=1)
        barrier, outcomes = threading.Barrier(4), []

        def attempt(n):
            try:
                with tenant_context(district):
                    barrier.wait()
                    ledger.post_entry(actor=admin, resident=resident, rule=f"t_once_{tag}", points=1,
                                        reason=f"并发 {n}", idempotency_key=f"{tag}-{n}")
                outcomes.append("posted")
            except Conflict as exc:
                outcomes.append(exc.code)
            except Exception as exc:  # noqa: BLE001 - shown in the assertion
                outcomes.append(repr(exc))
            finally:
                connection.close()

        threads = [threading.Thread(target=attempt, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(outcomes) == ["cap_reached"] * 3 + ["posted"]
        with tenant_context(district):
            assert Entry.objects.filter(resident=resident).count() == 1
            assert Balance.objects.get(resident=resident, kind="civic").points == 1
            assert_ledger_consistent()
        connection.set_schema_to_public()
