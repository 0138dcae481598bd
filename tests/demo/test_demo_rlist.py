"""Kangbashi's demo responsibility list (modules/cases/demo_rlist.py): published once through the
checked path, every row naming a real unit, cases routed by its most specific row, and nothing new on
a second run or in a district without Kangbashi's places."""
import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django_tenants.utils import tenant_context

from console.demo import DISTRICTS, seed_district
from modules.cases import selectors, services
from modules.cases.demo_rlist import NOTE, ROWS, seed_kangbashi_rlist
from modules.cases.models import Case, Category, ResponsibilityList
from modules.registry.models import Community, Compound, Department, Grid, Street
from tests.conftest import admin_of

pytestmark = pytest.mark.django_db

UNIT_MODELS = {"department": Department, "community": Community, "street": Street, "grid_workers": Grid}


def submit(category: str, *, resident, **place) -> Case:
    return services.submit_case(actor=resident, channel="snap", category=category, title="演示：权责清单路由",
                                **place)


def test_kangbashi_demo_publishes_its_list_once_and_cases_follow_its_rows():
    spec = {**DISTRICTS[0], "slug": "demo-kbs-rl", "places": "kangbashi"}
    district = seed_district(spec)
    with tenant_context(district):
        current = selectors.current_rlist()
        assert current.note == NOTE and current.version == 2  # after the district seed's default v1
        items = list(current.items.select_related("category"))
        assert len(items) == len(ROWS) >= 120
        shown = [(i.category.code, i.area_kind) for i in selectors.rlist_items(current)]  # as the settings page
        order = {"district": 0, "street": 1, "community": 2, "grid": 3}
        groups: dict[str, list[int]] = {}
        for code, area in shown:
            assert code not in groups or list(groups)[-1] == code  # one block per category
            groups.setdefault(code, []).append(order[area])
        assert all(ranks == sorted(ranks) and ranks[0] == 0 for ranks in groups.values())  # the default first
        categories = Category.objects.all()
        assert 30 <= categories.count() <= 40 and not categories.filter(active=False).exists()
        district_rows = {i.category.code for i in items if i.area_kind == "district"}
        assert district_rows == set(categories.values_list("code", flat=True))  # every category has a default
        # the district seed's categories are all still there, as they were
        assert {"corridor_clutter", "pipe_well", "parking", "facility_damage", "greenery_damage", "noise",
                "merchant_help", "suggestion", "praise"} <= district_rows
        assert Category.objects.get(code="parking").assign_mode == "grab"
        for item in items:
            if item.unit_code:
                assert UNIT_MODELS[item.unit_kind].objects.filter(code=item.unit_code).exists(), item
            else:
                assert item.unit_kind == "grid_workers"  # the case's own grid
            if item.category.assign_mode == "grab":  # a pool only grid workers of the place may grab
                assert item.unit_kind in ("grid_workers", "community"), item
            assert item.response_unit == "hours" and item.resolution_unit == "working_days"
            assert 1 <= item.response_amount <= 24 and 1 <= item.resolution_amount <= 15
        assert {"department", "community", "street", "grid_workers"} <= {i.unit_kind for i in items}
        assert {"district", "street", "community", "grid"} <= {i.area_kind for i in items}
        assert Department.objects.filter(code="eco-env", name="生态环境局康巴什区分局").exists()
        assert Case.objects.exists() and not Case.objects.exclude(rlist=current).exists()  # demo cases judged by it

        resident = get_user_model().objects.get(username="resident")
        g0201, g0101 = Grid.objects.get(code="G0201"), Grid.objects.get(code="G0101")
        # a street row beats the district default: street vending in 青春山街道 goes to the street itself
        case = submit("street_vending", resident=resident, grid=g0201)
        assert (case.responsible_kind, case.responsible_code) == ("street", "S01")
        assert case.rlist == current and case.assignee is None and case.status == "submitted"
        # a grid row beats the street row: the night market's grid goes to city management
        case = submit("street_vending", resident=resident, grid=g0101)
        assert (case.responsible_kind, case.responsible_code) == ("department", "urban-mgmt")
        # food safety in 滨河街道: its own market supervision station, not the bureau
        compound = Compound.objects.filter(community__code="C03").first()
        case = submit("food_safety", resident=resident, compound=compound)
        assert (case.responsible_kind, case.responsible_code) == ("department", "market-s02")
        # a community row: a neighbour quarrel goes to the community
        case = submit("neighbour_dispute", resident=resident, grid=g0101)
        assert (case.responsible_kind, case.responsible_code) == ("community", "C01")
        # no place-specific row: the district default
        case = submit("gas", resident=resident, grid=g0201)
        assert (case.responsible_kind, case.responsible_code) == ("department", "gas-co")
        # grab: the community posts, the grid's workers grab
        case = submit("small_ads", resident=resident, grid=g0101)
        assert (case.responsible_kind, case.responsible_code, case.assign_mode) == ("community", "C01", "grab")
        grabbed = services.grab_case(actor=get_user_model().objects.get(username="grid"), case=case)
        assert grabbed.status == "assigned"
        versions = ResponsibilityList.objects.count()

    seed_district(spec)  # a second `make run`
    with tenant_context(district):
        assert ResponsibilityList.objects.count() == versions
        assert selectors.current_rlist().pk == current.pk
        assert seed_kangbashi_rlist(get_user_model().objects.get(username="admin")).pk == current.pk
        assert ResponsibilityList.objects.count() == versions


def test_a_district_without_kangbashis_places_gets_no_list(dongsheng):
    admin = admin_of(dongsheng)
    with tenant_context(dongsheng):
        before = list(ResponsibilityList.objects.values_list("version", flat=True))
        categories = Category.objects.count()
        assert seed_kangbashi_rlist(admin) is None
        assert list(ResponsibilityList.objects.values_list("version", flat=True)) == before
        assert Category.objects.count() == categories
    connection.set_schema_to_public()
