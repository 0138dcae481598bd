"""Fixtures of the ratings tests: Kangbashi with places, two departments, officials (two colleagues in
civil affairs, one in urban management), a merchant and a stall, residents bound to households (with
accounts), a reviewer and a department head; ``add_rating`` to put a rating straight into the ledger
(for tests of what reads ratings); and the tally check after every test in the district: the tallies
equal the counted ratings."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from tests.conftest import admin_of, make_user
from tests.registry.test_places import build_places, valid_id


def id_number(n: int) -> str:
    return valid_id(f"15060219800101{n:03d}")


@dataclass
class RatingsWorld:
    district: object
    places: dict
    admin: object  # district admin: reviews held ratings and appeals
    civil: object  # Department civil-affairs
    urban: object  # Department urban-mgmt
    o1: object  # official of civil-affairs, signs in as o1_user
    o1_user: object
    o2: object  # o1's colleague in civil-affairs, signs in as o2_user
    o2_user: object
    o3: object  # official of urban-mgmt, no account
    head: object  # user: official role over department civil-affairs (the department head)
    shop: object  # Merchant (shop) in G0101, owned by shop_owner
    shop_owner: object
    stall: object  # Merchant (stall) in G0102
    res1: object  # user of resident r1, head of h1 (G0101)
    res2: object  # user of resident r2, h2 (G0102)
    res3: object  # user of resident r3, h3 (G0201)
    res1b: object  # user of resident r1b, member of h1 (same household as res1)
    stranger: object  # user with a verified phone, no household
    gw1: object  # grid worker of G0101
    staff: object  # community staff of C01
    residents: dict  # "r1", "r2", "r3", "r1b" -> registry.Resident


@pytest.fixture
def rw(kangbashi) -> RatingsWorld:
    from modules.registry import services as registry

    places = build_places(kangbashi)
    admin = admin_of(kangbashi)
    o1_user = make_user(kangbashi, "rt_o1", "official", "department", "civil-affairs")
    o2_user = make_user(kangbashi, "rt_o2", "official", "department", "civil-affairs")
    head = make_user(kangbashi, "rt_head", "official", "department", "civil-affairs")
    shop_owner = make_user(kangbashi, "rt_shop", "merchant")
    res1 = make_user(kangbashi, "rt_res1", "resident")
    res2 = make_user(kangbashi, "rt_res2", "resident")
    res3 = make_user(kangbashi, "rt_res3", "resident")
    res1b = make_user(kangbashi, "rt_res1b", "resident")
    stranger = make_user(kangbashi, "rt_stranger", "resident")
    gw1 = make_user(kangbashi, "rt_gw1", "grid_worker", "grid", "G0101")
    staff = make_user(kangbashi, "rt_staff", "community_staff", "community", "C01")
    with tenant_context(kangbashi):
        civil = registry.create_department(actor=None, code="civil-affairs", name="民政局")
        urban = registry.create_department(actor=None, code="urban-mgmt", name="城管局", is_sector=True)
        o1 = registry.create_official(actor=None, name="钱进", department=civil, post="科长", user=o1_user)
        o2 = registry.create_official(actor=None, name="孙丽", department=civil, post="科员", user=o2_user)
        o3 = registry.create_official(actor=None, name="周明", department=urban, post="队长")
        shop = registry.create_merchant(actor=None, name="郑记面馆", owner=shop_owner, grid=places["g1"],
                                        address="康和路 8 号")
        stall = registry.create_merchant(actor=None, name="老李烤红薯", kind="stall", grid=places["g2"],
                                         licensed_place="康和小区东门", licensed_hours="17:00–22:00")
        residents = {}
        for key, user, household, relation, n in (("r1", res1, "h1", "head", 1), ("r2", res2, "h2", "head", 2),
                                                  ("r3", res3, "h3", "head", 3), ("r1b", res1b, "h1", "member", 4)):
            r = registry.register_resident(actor=None, name=f"居民{key}", id_number=id_number(n),
                                           phone=f"139123456{n:02d}", household=places[household], relation=relation)
            registry.link_account(actor=None, resident=r, user=user)
            residents[key] = r
    connection.set_schema_to_public()
    return RatingsWorld(kangbashi, places, admin, civil, urban, o1, o1_user, o2, o2_user, o3, head, shop, shop_owner,
                        stall, res1, res2, res3, res1b, stranger, gw1, staff, residents)


def assert_tallies_consistent() -> None:
    """The tallies equal what ``tally.rebuild`` makes of the counted ratings."""
    from django.db import transaction

    from modules.ratings.ledger import tally
    from modules.ratings.ledger.models import Tally

    fields = ("month", "subject_kind", "official_id", "merchant_id", "department_id", "grid_id", "channel",
              "dimension", "n", "total", "bad")
    def key(row):  # None (no grid, no merchant …) sorts before any id
        return tuple((value is not None, value) for value in row)

    kept = sorted(Tally.objects.exclude(n=0).values_list(*fields), key=key)
    with transaction.atomic():
        sid = transaction.savepoint()
        tally.rebuild()
        rebuilt = sorted(Tally.objects.values_list(*fields), key=key)
        transaction.savepoint_rollback(sid)
    assert kept == rebuilt, "the tallies differ from the counted ratings"


@pytest.fixture
def in_district(rw):
    """Inside Kangbashi's schema; after the test, the tallies must equal the counted ratings."""
    with tenant_context(rw.district):
        yield rw
        assert_tallies_consistent()


def add_rating(*, official=None, merchant=None, level: int = 5, scores: dict | None = None, rater=None,
               rater_key: str | None = None, channel: str | None = None, at: dt.datetime | None = None,
               state: str = "counted", comment: str = "", period_key: str | None = None, household=None,
               device_hash: str = "", network_hash: str = "", case_id: int | None = None, **extra):
    """Put one rating straight into the ledger (the current schema), counted in the tallies if it counts.
    For tests of what reads ratings; tests of rating itself go through the service."""
    from django.db import transaction

    from modules.ratings.ledger import state as states
    from modules.ratings.ledger.models import Rating
    from modules.ratings.ledger.periods import period_key as key_of

    at = at or timezone.now()
    kind = "official" if official is not None else "merchant" if merchant is not None else "unit"
    if channel is None:
        channel = {"official": "official_code", "merchant": "merchant_code", "unit": "case"}[kind]
    department = extra.pop("department", official.department if official is not None else None)
    grid = extra.pop("grid", merchant.grid if merchant is not None else None)
    rating = Rating(
        subject_kind=kind, official=official, merchant=merchant, department=department, grid=grid,
        community=grid.community if grid is not None else None,
        street=grid.community.street if grid is not None else None,
        channel=channel, level=level, scores=scores or {}, comment=comment, rater=rater,
        rater_key=rater_key or (f"u:{rater.pk}" if rater is not None else f"t:{timezone.now().timestamp()}"),
        rater_household=household, device_hash=device_hash, network_hash=network_hash,
        period_key=period_key or key_of(at, "month"), case_id=case_id, state=state, created_at=at, **extra)
    with transaction.atomic():
        rating.save()
        states.insert_counted(rating)
    return rating


@pytest.fixture(autouse=True)
def _english_messages():
    from django.utils import translation

    with translation.override("en"):
        yield
