"""A double tap that arrives twice at once: two submissions of the same rater for the same subject in
the same period, on two real database connections at the same moment, leave exactly one live rating
(the other superseded by it), and the tallies count one. Committed in the "worker" district; everything
made is removed after."""
from __future__ import annotations

import secrets
import threading

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django_tenants.utils import tenant_context

from kernel.models import AuditEntry, OutboxEvent
from modules.ratings.ledger.models import Rating, Tally
from modules.registry.models import (
    Building,
    Community,
    Compound,
    Department,
    Grid,
    Household,
    Membership,
    Official,
    Resident,
    Street,
)
from tests.cases.test_concurrent_grab import in_thread


@pytest.mark.django_db  # the test database and districts; the data below is committed on other connections
def test_two_submissions_at_once_leave_one_live_rating():
    from modules.ratings.ledger import services
    from tenants.models import District

    district = in_thread(lambda: District.objects.get(slug="worker"))
    tag = secrets.token_hex(3)

    def make():
        with tenant_context(district):
            street = Street.objects.create(code=f"S{tag}", name="街道")
            community = Community.objects.create(code=f"C{tag}", name="社区", street=street)
            grid = Grid.objects.create(code=f"G{tag}", name="网格", community=community)
            compound = Compound.objects.create(code=f"P{tag}", name="小区", community=community, grid=grid)
            building = Building.objects.create(compound=compound, number="1", grid=grid)
            household = Household.objects.create(building=building, room="101", grid=grid)
            user = get_user_model().objects.create_user(username=f"rate{tag}")
            resident = Resident.objects.create(name="居民", user=user)
            Membership.objects.create(resident=resident, household=household, relation="head")
            department = Department.objects.create(code=f"d{tag}", name="部门")
            official = Official.objects.create(name="干部", department=department, post="科员")
        return user, official

    user, official = in_thread(make)
    barrier = threading.Barrier(2)
    results, errors = [], []

    def submit(level):
        try:
            with tenant_context(district):
                barrier.wait(10)
                results.append(services.submit_rating(actor=user, official=official, level=level).pk)
        except Exception as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(level,)) for level in (5, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    def outcome():
        with tenant_context(district):
            rows = list(Rating.objects.filter(official=official).order_by("id").values_list("pk", "state", "replaces"))
            tally = list(Tally.objects.filter(official=official, dimension="").values_list("n", flat=True))
            return rows, tally

    try:
        rows, tally = in_thread(outcome)
        assert not errors, errors
        assert len(rows) == 2 and sorted(results) == [r[0] for r in rows]
        (first, first_state, _), (second, second_state, replaces) = rows
        assert (first_state, second_state, replaces) == ("superseded", "counted", first)
        assert sum(tally) == 1
    finally:
        def clean():
            with tenant_context(district):
                ids = list(Rating.objects.filter(official=official).values_list("pk", flat=True))
                Rating.objects.filter(pk__in=ids).update(replaces=None)
                from modules.ratings.followup.models import FollowUp

                FollowUp.objects.filter(rating__in=Rating.objects.filter(pk__in=ids)).delete()
                Rating.objects.filter(pk__in=ids).delete()
                Tally.objects.filter(official=official).delete()
                OutboxEvent.objects.filter(topic__startswith="ratings.", payload__official_id=official.pk).delete()
                AuditEntry.objects.filter(target_type="ratings.rating", target_id__in=[str(i) for i in ids]).delete()
                Official.objects.filter(pk=official.pk).delete()
                Department.objects.filter(code=f"d{tag}").delete()
                Membership.objects.filter(resident__user=user).delete()
                Resident.objects.filter(user=user).delete()
                Household.objects.filter(grid__code=f"G{tag}").delete()
                Building.objects.filter(grid__code=f"G{tag}").delete()
                Compound.objects.filter(code=f"P{tag}").delete()
                Grid.objects.filter(code=f"G{tag}").delete()
                Community.objects.filter(code=f"C{tag}").delete()
                Street.objects.filter(code=f"S{tag}").delete()
                get_user_model().objects.filter(pk=user.pk).delete()

        in_thread(clean)
