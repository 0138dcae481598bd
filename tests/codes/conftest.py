"""Fixtures of the codes tests: a small place (street → community → two grids → households) with
its people, in a test district."""
from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.db import connection
from django_tenants.utils import tenant_context
from stdnum.cn import ric

from tests.conftest import admin_of, make_user


def id_number(seq: int, birth: str = "19850615", region: str = "150602") -> str:
    """A valid mainland ID number (region, birth date, sequence, check digit)."""
    body = f"{region}{birth}{seq:03d}"
    return body + ric.calc_check_digit(body + "0")


@dataclass
class Place:
    district: object
    admin: object
    street: object
    community: object
    grid: object
    grid2: object
    compound: object
    h1: object  # 张三 (head, signed-in user ``head_user``) and 李四 (member, no account yet)
    h2: object  # 王五 (head, signed-in ``other_user``)
    h3: object  # in grid2
    head: object
    member: object
    other: object
    worker: object
    worker2: object
    staff: object
    head_user: object
    other_user: object
    shop: object
    stall: object
    official: object
    merchant_user: object
    vendor_user: object
    official_user: object

    def __enter__(self):
        self._ctx = tenant_context(self.district)
        self._ctx.__enter__()
        return self

    def __exit__(self, *exc):
        self._ctx.__exit__(*exc)
        connection.set_schema_to_public()


def build_place(district, prefix: str = "T") -> Place:
    from modules.registry import services as reg
    from modules.registry.models import Resident

    admin = admin_of(district)
    worker = make_user(district, f"{prefix.lower()}-grid1", "grid_worker", "grid", f"{prefix}G1", phone="13911112222")
    worker2 = make_user(district, f"{prefix.lower()}-grid2", "grid_worker", "grid", f"{prefix}G2")
    staff = make_user(district, f"{prefix.lower()}-staff", "community_staff", "community", f"{prefix}C")
    head_user = make_user(district, f"{prefix.lower()}-head", "resident", phone="13700001111")
    other_user = make_user(district, f"{prefix.lower()}-other", "resident", phone="13700002222")
    merchant_user = make_user(district, f"{prefix.lower()}-shop", "merchant")
    vendor_user = make_user(district, f"{prefix.lower()}-vendor", "merchant")
    official_user = make_user(district, f"{prefix.lower()}-official", "official")
    with tenant_context(district):
        worker.display_name = "李强"
        worker.save(update_fields=["display_name"])
        vendor_user.display_name = "摊主 赵六"
        vendor_user.save(update_fields=["display_name"])
        street = reg.create_street(actor=admin, code=f"{prefix}S", name="青春山街道")
        community = reg.create_community(actor=admin, code=f"{prefix}C", name="阳光社区", street=street,
                                         police_contact="王警官 13912345678")
        grid = reg.create_grid(actor=admin, code=f"{prefix}G1", name="一网格", community=community, worker=worker)
        grid2 = reg.create_grid(actor=admin, code=f"{prefix}G2", name="二网格", community=community, worker=worker2)
        compound = reg.create_compound(actor=admin, code=f"{prefix}P", name="康和小区", grid=grid,
                                       property_company="安居物业", property_contact="李经理 13812345678")
        b1 = reg.create_building(actor=admin, compound=compound, number="3")
        b2 = reg.create_building(actor=admin, compound=compound, number="9", grid=grid2)
        h1 = reg.create_household(actor=admin, building=b1, unit="2", room="301")
        h2 = reg.create_household(actor=admin, building=b1, unit="2", room="302")
        h3 = reg.create_household(actor=admin, building=b2, room="101")
        head = reg.register_resident(actor=admin, name="张三", id_number=id_number(1), household=h1, relation="head")
        member = reg.register_resident(actor=admin, name="李四", id_number=id_number(2), household=h1)
        other = reg.register_resident(actor=admin, name="王五", id_number=id_number(3), household=h2, relation="head")
        Resident.objects.filter(pk=head.pk).update(user=head_user)
        Resident.objects.filter(pk=other.pk).update(user=other_user)
        dept = reg.create_department(actor=admin, code=f"{prefix.lower()}-civil", name="民政局")
        shop = reg.create_merchant(actor=admin, name="郑记面馆", owner=merchant_user, address="康和小区底商 5 号",
                                   license_number="91150602MA0000001X", grid=grid, phone="13600003333")
        stall = reg.create_merchant(actor=admin, name="老赵烤红薯", kind="stall", owner=vendor_user, grid=grid,
                                    licensed_place="康和小区东门外夜市 12 号位", licensed_hours="17:00–22:00")
        official = reg.create_official(actor=admin, name="钱进", department=dept, post="科员", user=official_user)
    connection.set_schema_to_public()
    return Place(district=district, admin=admin, street=street, community=community, grid=grid, grid2=grid2,
                 compound=compound, h1=h1, h2=h2, h3=h3, head=head, member=member, other=other, worker=worker,
                 worker2=worker2, staff=staff, head_user=head_user, other_user=other_user, shop=shop, stall=stall,
                 official=official, merchant_user=merchant_user, vendor_user=vendor_user, official_user=official_user)


def issue_all(place: Place) -> dict:
    """Every code of the place, by name: h1, h1_outdoor, h2, h2_outdoor, h3, shop, stall, official."""
    from modules.codes.services import issue_codes

    with place:
        out = {}
        for name in ("h1", "h2", "h3"):
            household_code, outdoor = issue_codes(actor=None, household=getattr(place, name))
            out[name], out[f"{name}_outdoor"] = household_code, outdoor
        out["shop"] = issue_codes(actor=None, merchant=place.shop)[0]
        out["stall"] = issue_codes(actor=None, merchant=place.stall)[0]
        out["official"] = issue_codes(actor=None, official=place.official)[0]
    return out


@pytest.fixture
def place(kangbashi):
    return build_place(kangbashi)


@pytest.fixture
def codes(place):
    return issue_all(place)


def delete_run_files(run) -> None:
    """A print run's PDF and ZIP, and their folder (call in the district's schema)."""
    import os

    folders = set()
    for field in (run.pdf, run.zip):
        if field:
            folders.add(os.path.dirname(field.path))
            field.delete(save=False)
    for folder in folders:
        if os.path.isdir(folder) and not os.listdir(folder):
            os.rmdir(folder)


def destroy_place(place: Place, users=()) -> None:
    """Remove what ``build_place`` and the test made, for tests that commit (real worker, browser)."""
    from django.contrib.auth import get_user_model

    from modules.codes.models import BindingRequest, Code, HouseholdInvite, PrintRun
    from modules.registry.models import (
        Building,
        Compound,
        Department,
        Grid,
        Household,
        Membership,
        Merchant,
        Official,
        Resident,
    )

    with place:
        households = Household.objects.filter(grid__community=place.community)
        runs = PrintRun.objects.filter(scope_code__in=[place.community.code, place.street.code])
        for run in runs:
            delete_run_files(run)
        runs.delete()
        BindingRequest.objects.filter(household__in=households).delete()
        HouseholdInvite.objects.filter(household__in=households).delete()
        Code.objects.filter(replaced_by__isnull=False, household__in=households).update(replaced_by=None)
        Code.objects.filter(household__in=households).delete()
        Code.objects.filter(merchant__in=[place.shop, place.stall]).delete()
        Code.objects.filter(official=place.official).delete()
        residents = Resident.objects.filter(memberships__household__in=households).distinct()
        resident_ids = list(residents.values_list("pk", flat=True))
        Membership.objects.filter(household__in=households).delete()
        Resident.objects.filter(pk__in=resident_ids).delete()
        households.delete()
        Building.objects.filter(compound=place.compound).delete()
        Compound.objects.filter(pk=place.compound.pk).delete()
        Merchant.objects.filter(pk__in=[place.shop.pk, place.stall.pk]).delete()
        Official.objects.filter(pk=place.official.pk).delete()
        Department.objects.filter(officials__isnull=True, code__endswith="-civil").delete()
        Grid.objects.filter(community=place.community).delete()
        place.community.delete()
        place.street.delete()
        people = [place.worker, place.worker2, place.staff, place.head_user, place.other_user, place.merchant_user,
                  place.vendor_user, place.official_user, *users]
        get_user_model().objects.filter(pk__in=[u.pk for u in people if u is not None]).delete()
