"""The demo of `make run`: three districts, each with true data on every page and a sign-in per role."""
import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from console.demo import DISTRICTS, PEOPLE, ensure_platform_staff, seed_district
from kernel.models import RoleAssignment
from modules.registry.models import Grid, Household, Merchant, Official, Resident
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def test_demo_district_is_seeded_with_people_places_and_rules():
    spec = {**DISTRICTS[0], "slug": "demo-kbs", "places": "kangbashi"}
    district = seed_district(spec)
    again = seed_district(spec)  # idempotent: a second `make run` adds nothing
    assert again.pk == district.pk
    with tenant_context(district):
        assert Grid.objects.filter(code="G0101", worker__username="grid").exists()
        assert Household.objects.count() >= 50
        residents = Resident.objects.count()
        assert residents >= 100
        assert Official.objects.filter(user__username="official").exists()
        assert Merchant.objects.filter(kind="stall").exclude(licensed_place="").count() == 2
        for username, _name, role, _kind, _code in PEOPLE:
            assert RoleAssignment.objects.filter(user__username=username, role=role).exists()
        me = Resident.objects.get(user__username="resident")
        assert me.memberships.filter(ended_at__isnull=True).exists()
        assert me.id_number.startswith("150603")  # a Kangbashi number
        from modules.registry.models import Finding

        kinds = set(Finding.objects.values_list("kind", flat=True))
        assert {"two_households", "over_capacity", "no_household", "duplicate_person"} <= kinds
        from modules.cases.models import Case

        statuses = set(Case.objects.values_list("status", flat=True))
        assert {"assigned", "resolved", "closed", "rejected"} <= statuses  # every page has something true
        channels = set(Case.objects.values_list("channel", flat=True))
        assert {"snap", "outdoor_report", "outdoor_praise", "suggestion", "hotline"} <= channels
        assert Case.objects.filter(rating__isnull=False).exists()
        assert Case.objects.filter(parent__channel="hotline").exists()  # a snap report linked to a hotline case
        cases = Case.objects.count()
    seed_district(spec)
    with tenant_context(district):
        assert Resident.objects.count() == residents
        assert Case.objects.count() == cases
    connection.set_schema_to_public()
    staff = ensure_platform_staff()
    assert [(u, role) for u, _, role in staff] == [("ops", "ops"), ("finance", "finance"), ("vendor", "vendor"),
                                                    ("vendor2", "vendor")]
    page = client_for(district).get("/")
    assert page.status_code == 200 and "多多评·码上生活" in page.content.decode()
