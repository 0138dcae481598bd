"""The world of ``bench/load.py`` and ``bench/load_endpoints.py``: districts seeded like the
Kangbashi demo district, with residents and staff holding API tokens, and the resident/staff
request mix over them.

Each district is a throwaway ``bench-<random>`` district made by ``create_district`` (migrations
replayed, not the pool: a spare can be behind a migration) with Kangbashi's modules, rules template
and branding, then the demo seed's own pieces (``console.demo.seed_people``: demo people for every
role, the Kangbashi place tree with its households and residents, codes, notices, a month of
cases, points and benefits). On top: ``residents`` more resident accounts linked to registered
residents (so ``/api/v1/points/me/`` has a ledger to read), and a bearer token for each of them,
for the demo resident and for the staff who work the pool (grid worker, community staff).
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass, field


@dataclass
class DistrictWorld:
    slug: str
    host: str
    resident_tokens: list[str]
    staff: list[tuple[str, list[int]]]  # (token, ids of the cases this staff member may open)
    categories: list[str]  # what a resident may pick for a snap report
    grids: list[str]
    seconds: dict = field(default_factory=dict)


def seed_district(slug: str, *, residents: int = 20, ledger: bool = True) -> DistrictWorld:
    """Create and seed one district like the Kangbashi demo; must run in the public schema.
    ``ledger=False`` (smoke runs): no demo points ledger or benefits, nearly half of the seed's time
    (``/api/v1/points/me/`` then answers with empty balances)."""
    import time

    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import connection, transaction
    from django_tenants.utils import tenant_context
    from rest_framework.authtoken.models import Token

    from accounts.services import create_user
    from console.demo import DISTRICTS, logo_png, seed_people
    from kernel.demo import DEMO_PASSWORD
    from kernel.roles import Role
    from kernel.services import assign_role
    from tenants.services import AdminSpec, create_district, update_branding

    spec = {**DISTRICTS[0], "slug": slug, "places": "kangbashi"}
    started = time.perf_counter()
    seconds = {}
    connection.set_schema_to_public()
    created = create_district(
        slug=slug, name_zh=f"基准{spec['name_zh']}", name_en=f"Bench {spec['name_en']}", modules=spec["modules"],
        branding=spec["branding"], use_pool=False, seed_template="kangbashi",
        admin=AdminSpec(username="admin", password=DEMO_PASSWORD, display_name="基准管理员"))
    district = update_branding(actor=None, district=created.district, logo=SimpleUploadedFile(
        "logo.png", logo_png(spec["letter"], spec["branding"].primary_color), content_type="image/png"))
    seconds["create"] = time.perf_counter() - started
    with tenant_context(district):
        seed_people(district, spec, without=() if ledger else ("points",))
        seconds["seed"] = time.perf_counter() - started - seconds["create"]
        from modules.cases.models import Category
        from modules.registry import services as reg
        from modules.registry.models import Grid, Resident

        User = get_user_model()
        admin = User.objects.get(username="admin")
        rng = random.Random(slug)
        free = list(Resident.objects.filter(user__isnull=True, memberships__isnull=False)
                    .order_by("id").distinct()[:residents])
        users = [User.objects.get(username="resident")]
        for i, person in enumerate(free):
            with transaction.atomic():
                user = create_user(actor=admin, username=f"bench_resident_{i}", display_name=person.name)
            assign_role(actor=admin, user=user, role=Role.RESIDENT)
            reg.link_account(actor=admin, resident=person, user=user)
            users.append(user)
        resident_tokens = [Token.objects.get_or_create(user=u)[0].key for u in users]
        from modules.cases.selectors import cases_for

        # The grid worker of G0101 and the community staff of C01, each with the cases they may open.
        staff = [(Token.objects.get_or_create(user=u)[0].key,
                  sorted(cases_for(u).values_list("id", flat=True)))
                 for u in User.objects.filter(username__in=["grid", "staff"]).order_by("username")]
        categories = list(Category.objects.filter(active=True).exclude(code__in=["praise", "suggestion"])
                          .values_list("code", flat=True))
        grids = list(Grid.objects.order_by("code").values_list("code", flat=True))
        rng.shuffle(categories)
    connection.set_schema_to_public()
    seconds["accounts"] = time.perf_counter() - started - seconds["create"] - seconds["seed"]
    return DistrictWorld(slug=slug, host=district.primary_domain, resident_tokens=resident_tokens,
                         staff=staff, categories=categories, grids=grids,
                         seconds=seconds)


# The mix: (name, share of requests in %, who). Shares add up to 100.
MIX = [
    ("portal_home", 14, "anonymous"),  # GET /  (the district's portal page, HTML)
    ("notices", 12, "anonymous"),  # GET /api/v1/notices/
    ("district", 12, "anonymous"),  # GET /api/v1/district/
    ("categories", 8, "resident"),  # GET /api/v1/cases/categories/
    ("me", 12, "resident"),  # GET /api/v1/me/
    ("points", 10, "resident"),  # GET /api/v1/points/me/
    ("my_cases", 15, "resident"),  # GET /api/v1/cases/
    ("snap_report", 5, "resident"),  # POST /api/v1/cases/ (JSON, channel snap)
    ("staff_pool", 6, "staff"),  # GET /api/v1/cases/pool/
    ("staff_case", 6, "staff"),  # GET /api/v1/cases/<id>/
]
assert sum(share for _n, share, _w in MIX) == 100


def plan(worlds: list[DistrictWorld], *, n: int = 4000, seed: str = "load") -> list[dict]:
    """``n`` requests drawn from MIX over the districts, each a dict: name, method, path, headers, body."""
    rng = random.Random(seed)
    names = [name for name, share, _w in MIX for _ in range(share)]
    out = []
    for i in range(n):
        world = worlds[i % len(worlds)]
        name = rng.choice(names)
        headers = {"Host": world.host, "Accept": "application/json"}
        method, body = "GET", ""
        resident = rng.choice(world.resident_tokens)
        staff, staff_cases = rng.choice(world.staff)
        if name == "portal_home":
            path, headers["Accept"] = "/", "text/html"
        elif name == "notices":
            path = "/api/v1/notices/"
        elif name == "district":
            path = "/api/v1/district/"
        elif name in ("categories", "me", "points", "my_cases"):
            path = {"categories": "/api/v1/cases/categories/", "me": "/api/v1/me/",
                    "points": "/api/v1/points/me/", "my_cases": "/api/v1/cases/"}[name]
            headers["Authorization"] = f"Bearer {resident}"
        elif name == "snap_report":
            method, path = "POST", "/api/v1/cases/"
            headers["Authorization"] = f"Bearer {resident}"
            headers["Content-Type"] = "application/json"
            body = json.dumps({
                "channel": "snap", "category": rng.choice(world.categories), "grid": rng.choice(world.grids),
                "title": f"楼道堆物 #{i}", "description": "三单元二楼楼道堆放纸箱，影响通行。",
                "latitude": "39.608000", "longitude": "109.781000"}, ensure_ascii=False)
        elif name == "staff_pool":
            path = "/api/v1/cases/pool/"
            headers["Authorization"] = f"Bearer {staff}"
        else:
            path = f"/api/v1/cases/{rng.choice(staff_cases)}/"
            headers["Authorization"] = f"Bearer {staff}"
        out.append({"name": name, "method": method, "path": path, "headers": headers, "body": body})
    return out
