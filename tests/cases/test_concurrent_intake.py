"""Two connections submit the same report with one Idempotency-Key at the same moment (a phone that
retried while the first attempt was still being saved): one case, and both callers get it.
Committed for real in the "worker" district; everything made is removed after."""
import secrets
import threading
import time

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django_tenants.utils import tenant_context

from kernel import idempotency
from kernel.models import AuditEntry, OutboxEvent
from modules.cases import services
from modules.cases.models import Case, Category
from modules.registry.models import Community, Grid, Street
from tests.cases.test_concurrent_grab import in_thread


@pytest.mark.django_db  # the test database and districts; the data below is committed on other connections
def test_one_key_submitted_twice_at_once_makes_one_case():
    from tenants.models import District

    district = in_thread(lambda: District.objects.get(slug="worker"))
    tag = secrets.token_hex(3)
    key = f"retry-{tag}-" + "k" * 100

    def make():
        with tenant_context(district):
            street = Street.objects.create(code=f"S{tag}", name="街道")
            community = Community.objects.create(code=f"C{tag}", name="社区", street=street)
            grid = Grid.objects.create(code=f"G{tag}", name="网格", community=community)
            reporter = get_user_model().objects.create_user(username=f"rep{tag}")
            category = Category.objects.create(code=f"dup{tag}", name_zh="重复提交测试", assign_mode="grab")
            return street, community, grid, reporter, category

    street, community, grid, reporter, category = in_thread(make)
    first_saved = threading.Event()
    results: dict[str, tuple] = {}

    def submit(name: str, hold: float):
        try:
            with tenant_context(district), transaction.atomic():
                case = services.submit_case(actor=reporter, channel="snap", category=category.code,
                                            title="楼道堆物", grid=grid, idempotency_key=key)
                results[name] = (case.pk, idempotency.created(case))
                first_saved.set()
                time.sleep(hold)  # the other attempt now waits on the key's unique index
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            results[name] = (exc,)
        finally:
            first_saved.set()
            connection.close()

    first = threading.Thread(target=submit, args=("first", 0.5))
    second = threading.Thread(target=lambda: (first_saved.wait(10), submit("second", 0)))
    try:
        first.start(), second.start()
        first.join(30), second.join(30)
        assert len(results["first"]) == 2, results["first"]
        assert len(results["second"]) == 2, results["second"]
        assert results["first"][1] is True and results["second"] == (results["first"][0], False)

        def count():
            with tenant_context(district):
                made = list(Case.objects.filter(category=category).values_list("pk", flat=True))
                published = OutboxEvent.objects.filter(topic="cases.submitted", payload__case_id__in=made).count()
                return made, published

        made, published = in_thread(count)
        assert made == [results["first"][0]] and published == 1
    finally:
        def cleanup():
            with tenant_context(district):
                ids = list(Case.objects.filter(category=category).values_list("pk", flat=True))
                AuditEntry.objects.filter(target_type="cases.case", target_id__in=[str(i) for i in ids]).delete()
                OutboxEvent.objects.filter(topic="cases.submitted", payload__case_id__in=ids).delete()
                Case.objects.filter(pk__in=ids).delete()
                category.delete()
                reporter.delete()
                grid.delete()
                community.delete()
                street.delete()

        in_thread(cleanup)
