"""Two grid workers grab the same pool case at the same moment, on two real database connections:
exactly one wins. Committed for real in the "worker" district; everything made is removed after."""
import secrets
import threading
import time

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from kernel.errors import Conflict
from kernel.models import AuditEntry, RoleAssignment
from modules.cases import services
from modules.cases.models import Case, CaseEvent, Category
from modules.registry.models import Community, Grid, Street


def in_thread(fn):
    """Run ``fn`` on a fresh connection of its own (autocommit: its writes are committed), outside the
    test's rolled-back transaction."""
    box = {}

    def run():
        try:
            assert connection.settings_dict["NAME"].startswith("test_"), "refusing to write a non-test database"
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            box["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    if "error" in box:
        raise box["error"]
    return box.get("value")


@pytest.mark.django_db  # the test database and districts; the data below is committed on other connections
def test_two_connections_grab_the_same_case_and_exactly_one_wins():
    from tenants.models import District

    district = in_thread(lambda: District.objects.get(slug="worker"))
    tag = secrets.token_hex(3)

    def make():
        with tenant_context(district):
            street = Street.objects.create(code=f"S{tag}", name="街道")
            community = Community.objects.create(code=f"C{tag}", name="社区", street=street)
            grid = Grid.objects.create(code=f"G{tag}", name="网格", community=community)
            users = [get_user_model().objects.create_user(username=f"grab{tag}{i}") for i in range(2)]
            for user in users:
                RoleAssignment.objects.create(user=user, role="grid_worker", scope_kind="grid", scope_code=grid.code)
            category = Category.objects.create(code=f"grab{tag}", name_zh="抢单测试", assign_mode="grab")
            now = timezone.now()
            case = Case.objects.create(ref=f"T-{tag}", channel="snap", category=category, title="抢单",
                                       grid=grid, community=community, assign_mode="grab",
                                       responsible_kind="grid_workers", responsible_code=grid.code,
                                       submitted_at=now, response_due=now, resolution_due=now)
        return street, community, grid, users, category, case

    street, community, grid, users, category, case = in_thread(make)
    first_holds_lock = threading.Event()
    outcomes: dict[str, str] = {}

    def first():
        try:
            with tenant_context(district), transaction.atomic():
                services.grab_case(actor=users[0], case=case)
                first_holds_lock.set()
                time.sleep(0.5)  # the second grabber is now waiting on the row lock
            outcomes["first"] = "won"
        except Conflict:
            outcomes["first"] = "conflict"
        finally:
            first_holds_lock.set()
            connection.close()

    def second():
        first_holds_lock.wait(10)
        started = time.monotonic()
        try:
            with tenant_context(district):
                services.grab_case(actor=users[1], case=case)
            outcomes["second"] = "won"
        except Conflict:
            outcomes["second"] = "conflict"
        finally:
            outcomes["waited"] = time.monotonic() - started
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert outcomes["first"] == "won" and outcomes["second"] == "conflict"
        assert outcomes["waited"] >= 0.3  # it really waited for the first transaction

        def check():
            with tenant_context(district):
                won = Case.objects.get(pk=case.pk)
                return won.assignee_id, won.status, CaseEvent.objects.filter(case=won, kind="grabbed").count()

        assert in_thread(check) == (users[0].pk, "assigned", 1)
    finally:
        in_thread(lambda: cleanup(district, case, category, users, grid, community, street))


def cleanup(district, case, category, users, grid, community, street):
    with tenant_context(district):
        AuditEntry.objects.filter(target_type="cases.case", target_id=str(case.pk)).delete()
        Case.objects.filter(pk=case.pk).delete()
        category.delete()
        get_user_model().objects.filter(pk__in=[u.pk for u in users]).delete()
        grid.delete()
        community.delete()
        street.delete()
