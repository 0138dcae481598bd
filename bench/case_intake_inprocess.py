"""Case intake in one process: what one submission costs through the whole Django stack, with
dispatch to the grid's worker, without a web server (the server-level figure is ``case_intake.py``).

Run: ``.venv/bin/python bench/case_intake_inprocess.py`` (``BENCH_N`` cases, default 2000).

A throwaway district (``create_district(use_pool=False)``, modules registry, codes, cases: the cases
seed gives the default categories and a district-wide responsibility list routing to the case's
grid) with a small place tree: 1 street, 2 communities, 4 grids, each grid owned by its own grid
worker (``Grid.worker``), and one signed-in resident. ``BENCH_N`` cases are POSTed to
``/api/v1/cases/`` through Django's test ``Client`` (the in-process WSGI-style handler, whole
middleware stack, ``Host: <district domain>``, session from ``force_login``), spread over the grids
and the categories whose assign mode is dispatch, so each one goes the full way: validation, route
by the responsibility list, time limits by the holiday calendar, reference number, case row,
"submitted" and "assigned" timeline events, audit entry, outbox event (and its relay kick on commit).

Throttles are off (``REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = []`` and the view's bound
``throttle_classes``): the user limit (2000/min) would otherwise answer 429. Every answer must be
201, and afterwards every case must be ``assigned`` to its grid's worker. Figures are JSON lines on
stdout, logs on stderr.
"""
from __future__ import annotations

import gc
import json
import sys
import time

from _support import bench_slug, drop_district, figure, log, quiet_stdout, setup_django, size

PATH = "/api/v1/cases/"
GRIDS = [("C01", "G0101"), ("C01", "G0102"), ("C02", "G0201"), ("C02", "G0202")]


def build_world(district):
    """Places, a worker owning each grid, a resident with a household. Returns (resident, {grid: worker})."""
    from django_tenants.utils import tenant_context

    from accounts.services import create_user
    from kernel.services import assign_role
    from modules.registry import services as registry

    with tenant_context(district):
        street = registry.create_street(actor=None, code="S01", name="基准街道")
        communities = {code: registry.create_community(actor=None, code=code, name=f"基准社区{code}", street=street)
                       for code in sorted({c for c, _g in GRIDS})}
        workers = {}
        first_grid = None
        for community, code in GRIDS:
            worker = create_user(actor=None, username=f"gw_{code.lower()}", password=None)
            assign_role(actor=None, user=worker, role="grid_worker", scope_kind="grid", scope_code=code)
            grid = registry.create_grid(actor=None, code=code, name=f"网格{code}",
                                        community=communities[community], worker=worker)
            first_grid = first_grid or grid
            workers[code] = worker
        compound = registry.create_compound(actor=None, code="X01", name="基准小区", grid=first_grid)
        building = registry.create_building(actor=None, compound=compound, number="1")
        household = registry.create_household(actor=None, building=building, unit="1", room="101")
        resident_user = create_user(actor=None, username="reporter", password=None)
        assign_role(actor=None, user=resident_user, role="resident")
        resident = registry.register_resident(actor=None, name="张三", household=household, relation="head")
        registry.link_account(actor=None, resident=resident, user=resident_user)
    return resident_user, workers


def main() -> int:
    n = size(2000, 20, env="BENCH_N")
    setup_django()
    from django.conf import settings
    from django.db import connection
    from django.test import Client, override_settings
    from django_tenants.utils import tenant_context

    from tenants.services import create_district

    slug = bench_slug()
    try:
        with quiet_stdout():
            created = create_district(slug=slug, name_zh="基准区", name_en="Bench",
                                      modules=["registry", "codes", "cases"], use_pool=False)
            district = created.district
            host = district.primary_domain
            connection.set_schema_to_public()
            log(f"district {slug} at {host} ({created.seconds:.2f}s)")

            resident, workers = build_world(district)
            from modules.cases.models import AssignMode, Case, CaseEvent, Category

            with tenant_context(district):
                categories = list(Category.objects.filter(active=True, assign_mode=AssignMode.DISPATCH)
                                  .values_list("code", flat=True))
            connection.set_schema_to_public()
            if not categories:
                raise SystemExit("the cases seed made no dispatch category")
            log(f"grids {', '.join(workers)}; dispatch categories {', '.join(categories)}")

            client = Client(HTTP_HOST=host, HTTP_ACCEPT_LANGUAGE="en")
            with tenant_context(district):  # the session lives in the district's schema
                client.force_login(resident, backend="django.contrib.auth.backends.ModelBackend")
            connection.set_schema_to_public()

            bodies = []
            for i in range(n):
                _community, grid = GRIDS[i % len(GRIDS)]
                bodies.append(json.dumps({
                    "channel": "snap", "category": categories[i % len(categories)], "grid": grid,
                    "title": f"楼道堆物 #{i}", "description": "三单元二楼楼道堆放纸箱，影响通行。",
                    "latitude": "39.608000", "longitude": "109.781000"}))

            rest = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_CLASSES": []}
            with override_settings(REST_FRAMEWORK=rest):
                from modules.cases.api import CaseList

                CaseList.throttle_classes = []  # bound from api_settings when DRF was imported
                if CaseList().get_throttles():
                    raise SystemExit("throttles are still on")

                # One first request (not counted): must be a dispatched case; warms imports and caches.
                first = client.post(PATH, bodies[0], content_type="application/json")
                if first.status_code != 201 or first.json().get("status") != "assigned":
                    raise SystemExit(f"first submission: {first.status_code} {first.content[:500]!r}")

                gc.collect()
                bad = []
                started = time.perf_counter()
                for i, body in enumerate(bodies):
                    response = client.post(PATH, body, content_type="application/json")
                    if response.status_code != 201:
                        bad.append((i, response.status_code, response.content[:300]))
                    if (i + 1) % 500 == 0:
                        log(f"  {i + 1}/{n}: {(i + 1) / (time.perf_counter() - started):,.0f}/s")
                seconds = time.perf_counter() - started
            if bad:
                raise SystemExit(f"{len(bad)} of {n} submissions failed; first: {bad[0]}")

            with tenant_context(district):
                cases = Case.objects.exclude(pk=first.json()["id"]) if "id" in first.json() else Case.objects
                total = cases.count()
                assigned = cases.filter(status=Case.Status.ASSIGNED, assignee__isnull=False).count()
                wrong = sum(cases.filter(grid__code=code).exclude(assignee=worker).count()
                            for code, worker in workers.items())
                dispatch_events = CaseEvent.objects.filter(kind="assigned", case__in=cases).count()
            connection.set_schema_to_public()
            log(f"{total} cases, {assigned} assigned, {dispatch_events} 'assigned' events, "
                f"{wrong} assigned to someone other than the grid's worker")
            if total != n or assigned != n or dispatch_events != n or wrong:
                raise SystemExit(f"dispatch check failed: {n} submitted, {total} stored, {assigned} assigned, "
                                 f"{dispatch_events} assigned events, {wrong} to the wrong worker")
    finally:
        with quiet_stdout():
            connection.set_schema_to_public()
            drop_district(slug=slug)
            log(f"dropped {slug}")

    log(f"{n} cases in {seconds:.2f}s: {seconds / n * 1e3:.2f} ms a case")
    figure("case_intake_inprocess_per_second", round(n / seconds, 1), "cases/s")
    figure("case_intake_inprocess_ms_per_case", round(seconds / n * 1e3, 2), "ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
