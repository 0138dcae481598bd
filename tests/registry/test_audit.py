"""Data audit (数据核查): every kind of finding, routed to its grid; who sees and resolves what;
counts going down over runs as grid workers fix the data; the API, the page and a real worker."""
from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from kernel.errors import Conflict, DomainError, NotAllowed
from kernel.models import AuditEntry
from kernel.personal import blind_index, encrypt
from kernel.services import update_module_config
from modules.registry import datachecks, services
from modules.registry.models import AuditRun, Finding, Membership, Resident
from tests.conftest import admin_of, client_for, make_user, wait_for
from tests.registry import (
    bad_checksum,
    build_places,
    make_id,
    make_phone,
    remove_places,
)

API = "/api/v1/registry/audit"


@dataclass
class World:
    places: object
    bad_id: Resident
    twins: tuple  # same name and birth date, different ID numbers (grid 2)
    phone_twins: tuple  # same name and phone; the second has no ID number and no household
    two_homes: Resident
    no_home: Resident
    moved_out: Resident
    full: object  # registered for 2, holds 3 (grid 1)
    crowded: object  # no registered size, 6 residents > the district's limit of 5 (grid 2)


def build_world(district, admin) -> World:
    p = build_places(district, admin)
    s = services
    with tenant_context(district):
        update_module_config(actor=admin, module_key="registry",
                             data={"household_max_residents": 5, "full_id_number_roles": ["district_admin"]})
        b1, moon = p.buildings[("sun", 1)], p.buildings[("moon", 1)]
        ok = s.create_household(actor=admin, building=b1, unit="1", room="101", registered_size=3)
        full = s.create_household(actor=admin, building=b1, unit="1", room="102", registered_size=2)
        crowded = s.create_household(actor=admin, building=moon, room="201")
        elsewhere = s.create_household(actor=admin, building=moon, room="202")
        s.register_resident(actor=admin, name="正常甲", id_number=make_id(1), household=ok, relation="head")
        s.register_resident(actor=admin, name="正常乙", id_number=make_id(2), household=ok)
        wrong = bad_checksum(make_id(3))  # stored before validation existed: bypasses the services
        bad_id = Resident.objects.create(name="错号", id_number_encrypted=encrypt(wrong),
                                         id_number_index=blind_index(wrong, "id"))
        Membership.objects.create(resident=bad_id, household=ok)
        for n in (10, 11, 12):
            s.register_resident(actor=admin, name=f"满员{n}", id_number=make_id(n), household=full)
        twins = (s.register_resident(actor=admin, name="重复丙", id_number=make_id(20), household=crowded),
                 s.register_resident(actor=admin, name="重复丙", id_number=make_id(21), household=crowded))
        assert twins[0].birth_date == twins[1].birth_date
        phone_twins = (s.register_resident(actor=admin, name="重复丁", id_number=make_id(30), phone=make_phone(30),
                                           household=crowded),
                       s.register_resident(actor=admin, name="重复丁", phone=make_phone(30)))
        # a family sharing one phone is not a duplicate
        s.register_resident(actor=admin, name="家长", id_number=make_id(40), phone=make_phone(40), household=crowded)
        s.register_resident(actor=admin, name="孩子", id_number=make_id(41), phone=make_phone(40), household=crowded)
        s.register_resident(actor=admin, name="第六人", id_number=make_id(42), household=crowded)
        two_homes = s.register_resident(actor=admin, name="两户人", id_number=make_id(50))
        s.bind_resident(actor=admin, resident=two_homes, household=s.create_household(
            actor=admin, building=b1, unit="2", room="103"))
        s.bind_resident(actor=admin, resident=two_homes, household=elsewhere)
        no_home = s.register_resident(actor=admin, name="无户甲", id_number=make_id(60))
        moved_out = s.register_resident(actor=admin, name="搬走乙", id_number=make_id(61), household=elsewhere)
        s.end_membership(actor=admin, membership=moved_out.memberships.get())
    connection.set_schema_to_public()
    return World(p, bad_id, twins, phone_twins, two_homes, no_home, moved_out, full, crowded)


@pytest.fixture
def admin(kangbashi):
    return admin_of(kangbashi)


@pytest.fixture
def world(kangbashi, admin):
    return build_world(kangbashi, admin)


def run_now(district, actor) -> AuditRun:
    with tenant_context(district):
        return datachecks.start_audit(actor=actor, background=False)


def findings(district, **filters) -> list[Finding]:
    with tenant_context(district):
        return list(Finding.objects.filter(**filters).select_related("grid").order_by("id"))


def test_a_run_finds_every_kind_and_routes_each_to_its_grid(kangbashi, admin, world):
    run = run_now(kangbashi, admin)
    assert run.status == AuditRun.Status.DONE, run.error
    assert run.counts == {"invalid_id": 1, "duplicate_person": 2, "two_households": 1, "over_capacity": 2,
                          "no_household": 3}
    assert run.residents_checked == 16 and run.new_findings == 9
    g1, g2 = world.places.grid.pk, world.places.other_grid.pk
    [invalid] = findings(kangbashi, kind="invalid_id")
    assert (invalid.resident_id, invalid.grid_id, invalid.details) == (world.bad_id.pk, g1, {"code": "id_checksum"})
    dupes = {f.key: f for f in findings(kangbashi, kind="duplicate_person")}
    a, b = world.twins
    assert dupes[f"{a.pk}-{b.pk}"].details == {"rules": ["name_birth"]} and dupes[f"{a.pk}-{b.pk}"].grid_id == g2
    c, d = world.phone_twins
    phone_dupe = dupes[f"{c.pk}-{d.pk}"]
    assert phone_dupe.details == {"rules": ["phone_name"]}
    assert phone_dupe.resident_id == d.pk and phone_dupe.other_resident_id == c.pk
    assert phone_dupe.grid_id == g2  # the newer record has no household: routed by the older one's
    [two] = findings(kangbashi, kind="two_households")
    assert two.resident_id == world.two_homes.pk and two.grid_id == g2 and len(two.details["households"]) == 2
    over = {f.household_id: f for f in findings(kangbashi, kind="over_capacity")}
    assert over[world.full.pk].details == {"residents": 3, "limit": 2, "limit_from": "registered_size"}
    assert over[world.full.pk].grid_id == g1
    assert over[world.crowded.pk].details == {"residents": 6, "limit": 5, "limit_from": "config"}
    homeless = {f.resident_id: f.grid_id for f in findings(kangbashi, kind="no_household")}
    assert homeless == {world.no_home.pk: None, world.moved_out.pk: g2, d.pk: None}
    with tenant_context(kangbashi):
        entry = AuditEntry.objects.get(action="registry.audit.run", target_id=str(run.pk))
        assert entry.after["invalid_id"] == 1 and entry.actor_label == "admin"
        texts = {f.kind: datachecks.describe(f) for f in Finding.objects.all()}
        assert "校验码" in texts["invalid_id"]["zh"] and "checksum" in texts["invalid_id"]["en"]
        assert "超过登记人数2人" in datachecks.describe(over[world.full.pk])["zh"]
        assert make_id(20) not in str(texts) and make_id(21)[:6] in str(texts)  # masked in words too
    # running again finds the same problems: no new findings, nothing closed
    again = run_now(kangbashi, admin)
    assert again.counts == run.counts and again.new_findings == 0 and again.closed_findings == 0
    assert len(findings(kangbashi)) == 9 and {f.last_run_id for f in findings(kangbashi)} == {again.pk}


def test_an_audit_run_whose_worker_died_is_run_again_by_the_sweep(kangbashi, admin, world, monkeypatch):
    import datetime as dt

    from django.utils import timezone

    from config.celery import app
    from kernel import jobs
    from modules.registry import tasks

    monkeypatch.setitem(app.conf, "task_always_eager", True)
    long_ago = timezone.now() - dt.timedelta(seconds=jobs.JOB_STALE_SECONDS + 5)
    with tenant_context(kangbashi):
        alive = AuditRun.objects.create(status="running", started_at=long_ago, heartbeat_at=timezone.now())
        dead = AuditRun.objects.create(status="running", started_at=long_ago, heartbeat_at=long_ago)
        assert tasks.resume_dead_jobs()["audit_runs"] == [dead.pk]
    with tenant_context(kangbashi):
        dead.refresh_from_db()
        alive.refresh_from_db()
        assert dead.status == "done" and dead.invalid_id >= 1
        assert alive.status == "running"


def test_grid_workers_see_and_handle_only_their_grids(kangbashi, admin, world):
    run_now(kangbashi, admin)
    p = world.places
    worker1 = make_user(kangbashi, "audit-grid1", "grid_worker", "grid", p.grid.code)
    worker2 = make_user(kangbashi, "audit-grid2", "grid_worker_part_time", "grid", p.other_grid.code)
    staff1 = make_user(kangbashi, "audit-staff1", "community_staff", "community", p.community.code)
    street = make_user(kangbashi, "audit-street", "community_staff", "street", p.street.code)
    mediator = make_user(kangbashi, "audit-mediator", "mediator", "district")
    grid1 = {f.pk for f in findings(kangbashi, grid=p.grid)}
    grid2 = {f.pk for f in findings(kangbashi, grid=p.other_grid)}
    everything = {f.pk for f in findings(kangbashi)}

    def listed(user, **params):
        response = client_for(kangbashi, user).get(f"{API}/findings/", {"page_size": 100, **params})
        assert response.status_code == 200, response.content
        return {f["id"] for f in response.json()["results"]}

    assert listed(worker1) == grid1 and listed(worker2) == grid2 and listed(staff1) == grid1
    assert listed(street) == grid1 | grid2 and listed(admin) == everything  # grid-less ones: admins only
    assert listed(worker1, kind="over_capacity") == {f.pk for f in findings(kangbashi, grid=p.grid,
                                                                             kind="over_capacity")}
    assert client_for(kangbashi, mediator).get(f"{API}/findings/").status_code == 403

    target = min(grid1)
    resolve = f"{API}/findings/{target}/resolve/"
    assert client_for(kangbashi, worker2).post(resolve, {"status": "fixed"}, format="json").status_code == 404
    with tenant_context(kangbashi), pytest.raises(NotAllowed):
        datachecks.resolve_finding(actor=worker2, finding=Finding.objects.get(pk=target), status="fixed")
    # the owner of a grid (Grid.worker) handles its findings too
    with tenant_context(kangbashi):
        p.grid.worker = worker2
        p.grid.save()
        assert datachecks.can_handle(worker2, Finding.objects.select_related("grid").get(pk=target))
        p.grid.worker = None
        p.grid.save()
    ok = client_for(kangbashi, worker1).post(resolve, {"status": "confirmed", "note": "已上门核实"}, format="json")
    assert ok.status_code == 200 and ok.json()["status"] == "confirmed" and ok.json()["resolved_by"] == "audit-grid1"
    no_note = client_for(kangbashi, staff1).post(resolve, {"status": "dismissed"}, format="json")
    assert no_note.status_code == 400 and no_note.json()["error"]["fields"] == {"note": ["required to dismiss"]}
    bad = client_for(kangbashi, staff1).post(resolve, {"status": "open"}, format="json")
    assert bad.status_code == 400
    fixed = client_for(kangbashi, staff1).post(resolve, {"status": "fixed", "note": "已更正"}, format="json")
    assert fixed.status_code == 200 and fixed.json()["note"] == "已上门核实\n已更正"
    closed = client_for(kangbashi, admin).post(resolve, {"status": "dismissed", "note": "x"}, format="json")
    assert closed.status_code == 409
    with tenant_context(kangbashi):
        actions = list(AuditEntry.objects.filter(target_type="registry.finding", target_id=str(target)).order_by(
            "id").values_list("action", flat=True))
        assert actions == ["registry.finding.confirmed", "registry.finding.fixed"]
    # nobody outside a grid handles the district-wide leftovers but the administrators
    gridless = findings(kangbashi, grid__isnull=True)[0]
    with tenant_context(kangbashi):
        assert not datachecks.can_handle(street, gridless) and datachecks.can_handle(admin, gridless)


def test_counts_go_down_as_the_data_is_fixed(kangbashi, admin, world):
    first = run_now(kangbashi, admin)
    worker1 = make_user(kangbashi, "audit-fixer", "grid_worker", "grid", world.places.grid.code)
    worker2 = make_user(kangbashi, "audit-fixer2", "grid_worker", "grid", world.places.other_grid.code)
    with tenant_context(kangbashi):
        # the grid worker corrects the ID number and says so
        services.correct_resident(actor=worker1, resident=world.bad_id, id_number=make_id(3))
        [invalid] = Finding.objects.filter(kind="invalid_id")
        datachecks.resolve_finding(actor=worker1, finding=invalid, status="fixed", note="按身份证原件更正")
        # two real people with the same name and birth date: dismissed, with the reason
        a, b = world.twins
        twins = Finding.objects.get(kind="duplicate_person", key=f"{a.pk}-{b.pk}")
        datachecks.resolve_finding(actor=worker2, finding=twins, status="dismissed", note="两人不是同一人")
        # the person moved: the old membership is ended, nobody marks the finding
        old = world.two_homes.memberships.filter(ended_at__isnull=True).order_by("id").first()
        services.end_membership(actor=worker2, membership=old)
        # marked fixed, but the household still holds three people
        full = Finding.objects.get(kind="over_capacity", household=world.full)
        datachecks.resolve_finding(actor=worker1, finding=full, status="fixed")
    second = run_now(kangbashi, admin)
    assert second.counts == {"invalid_id": 0, "duplicate_person": 1, "two_households": 0, "over_capacity": 2,
                             "no_household": 3}
    assert second.total < first.total
    assert (second.closed_findings, second.reopened_findings, second.new_findings) == (1, 1, 0)
    with tenant_context(kangbashi):
        assert Finding.objects.get(pk=invalid.pk).status == "fixed"
        assert Finding.objects.get(pk=twins.pk).status == "dismissed"
        moved = Finding.objects.get(kind="two_households")
        assert moved.status == "fixed" and moved.resolved_by is None and "run" in moved.note
        reopened = Finding.objects.get(pk=full.pk)
        assert reopened.status == "open" and reopened.resolved_at is None and "重新打开" in reopened.note
        # the crowded household gets one resident moved out: the third run counts less again
        crowded = Membership.objects.filter(household=world.crowded, ended_at__isnull=True).order_by("-id").first()
        services.end_membership(actor=worker2, membership=crowded)
        services.bind_resident(actor=worker2, resident=crowded.resident, household=services.create_household(
            actor=admin, building=world.places.buildings[("moon", 1)], room="203"))
    third = run_now(kangbashi, admin)
    assert third.counts["over_capacity"] == 1 and third.total < second.total
    with tenant_context(kangbashi):
        history = datachecks.run_history()
        assert [r.pk for r in history] == [first.pk, second.pk, third.pk]
        assert [r.total for r in history] == [9, 6, 5]
    runs = client_for(kangbashi, admin).get(f"{API}/runs/").json()
    assert [r["total"] for r in runs["results"]] == [5, 6, 9]
    assert runs["results"][0]["counts"]["over_capacity"] == 1


def test_starting_runs_through_the_api(kangbashi, admin, world):
    client = client_for(kangbashi, admin)
    response = client.post(f"{API}/run/")
    assert response.status_code == 202 and response.json()["status"] == "done"
    assert response.json()["counts"]["no_household"] == 3
    worker = make_user(kangbashi, "audit-runner", "grid_worker", "grid", world.places.grid.code)
    assert client_for(kangbashi, worker).post(f"{API}/run/").status_code == 403
    assert client_for(kangbashi, worker).get(f"{API}/runs/").status_code == 200
    with tenant_context(kangbashi):
        AuditRun.objects.create(status=AuditRun.Status.RUNNING)
        with pytest.raises(Conflict):
            datachecks.start_audit(actor=admin)
    busy = client.post(f"{API}/run/")
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "audit_running"
    with tenant_context(kangbashi), pytest.raises(DomainError):
        datachecks.start_audit(actor=worker)


def test_full_id_numbers_only_for_roles_that_need_them(kangbashi, admin, world):
    run_now(kangbashi, admin)
    worker = make_user(kangbashi, "audit-masked", "grid_worker", "grid", world.places.other_grid.code)
    a, b = world.twins
    rows = client_for(kangbashi, worker).get(f"{API}/findings/", {"kind": "duplicate_person"}).json()["results"]
    pair = next(f for f in rows if f["resident"]["id"] == b.pk)
    assert pair["resident"]["id_number"] == make_id(21)[:6] + "********" + make_id(21)[-4:]
    assert make_id(20) not in str(pair) and "重复丙" in pair["description"]["zh"]
    full = client_for(kangbashi, admin).get(f"{API}/findings/", {"kind": "duplicate_person"}).json()["results"]
    assert make_id(20) in str(full)


def test_audit_page_lists_counts_and_handles_findings(kangbashi, admin, world):
    run_now(kangbashi, admin)
    worker = make_user(kangbashi, "audit-page", "grid_worker", "grid", world.places.grid.code)
    client = client_for(kangbashi, worker)
    page = client.get("/registry/audit/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="audit-history"' in html and "错号" in html and "重复丙" not in html  # other grid
    assert 'data-testid="run-audit"' not in html  # grid workers don't start runs
    [invalid] = findings(kangbashi, kind="invalid_id")
    done = client.post(f"/registry/audit/findings/{invalid.pk}/resolve/",
                       {"status": "confirmed", "next": "/registry/audit/?kind=invalid_id"})
    assert done.status_code == 302 and done["Location"] == "/registry/audit/?kind=invalid_id"
    assert findings(kangbashi, pk=invalid.pk)[0].status == "confirmed"
    refused = client.post(f"/registry/audit/findings/{invalid.pk}/resolve/", {"status": "dismissed"}, follow=True)
    assert "note" in refused.content.decode()
    other = findings(kangbashi, grid=world.places.other_grid)[0]
    assert client.post(f"/registry/audit/findings/{other.pk}/resolve/", {"status": "fixed"}).status_code == 404
    admin_page = client_for(kangbashi, admin)
    assert 'data-testid="run-audit"' in admin_page.get("/registry/audit/").content.decode()
    assert admin_page.post("/registry/audit/run/").status_code == 302
    assert client_for(kangbashi, make_user(kangbashi, "audit-resident", "resident")).get(
        "/registry/audit/").status_code == 403


@pytest.mark.worker
def test_a_run_queued_while_the_broker_refuses_stays_queued_and_the_sweep_runs_it(
        kangbashi, admin, world, monkeypatch, django_capture_on_commit_callbacks):
    """Issue 10's defect: with the broker refusing connections the run was marked FAILED. Now it stays
    QUEUED, and the registry's sweep runs it once it has waited."""
    import datetime as dt

    from django.utils import timezone

    from config.celery import app
    from kernel import jobs
    from modules.registry import tasks
    from tests.broker import refusing_broker

    monkeypatch.setattr(datachecks, "INLINE_MAX_RESIDENTS", 0)
    with refusing_broker(monkeypatch), django_capture_on_commit_callbacks(execute=True):
        response = client_for(kangbashi, admin).post(f"{API}/run/")
    assert response.status_code == 202 and response.json()["status"] == "queued"
    with tenant_context(kangbashi):
        run = AuditRun.objects.get(pk=response.json()["id"])
        assert run.status == AuditRun.Status.QUEUED and not run.error
        assert tasks.resume_dead_jobs()["audit_runs"] == []
        AuditRun.objects.filter(pk=run.pk).update(
            created_at=timezone.now() - dt.timedelta(seconds=jobs.QUEUED_STALE_SECONDS + 5))
        monkeypatch.setitem(app.conf, "task_always_eager", True)
        assert tasks.resume_dead_jobs()["audit_runs"] == [run.pk]
    with tenant_context(kangbashi):
        run.refresh_from_db()
        assert run.status == AuditRun.Status.DONE and run.invalid_id >= 1


def test_an_audit_through_a_real_celery_worker(celery_worker, django_db_blocker):
    """Committed for real in the "worker" district; what it made is removed afterwards."""
    import secrets

    from tenants.models import District

    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        district = District.objects.get(slug="worker")
        admin = admin_of(district)
        prefix = f"A{secrets.token_hex(2).upper()}"
        places = build_places(district, admin, prefix=prefix)
        made: list[int] = []
        try:
            with tenant_context(district):
                homeless = services.register_resident(actor=admin, name=f"{prefix}无户", id_number=make_id(7000))
                run = datachecks.start_audit(actor=admin, background=True)
                made.append(run.pk)
                assert run.status == AuditRun.Status.QUEUED

            def finished():
                with tenant_context(district):
                    r = AuditRun.objects.get(pk=run.pk)
                    return r if r.status in ("done", "failed") else None

            done = wait_for(finished, timeout=90)
            assert done and done.status == "done", done and done.error
            with tenant_context(district):
                assert Finding.objects.filter(kind="no_household", resident=homeless, run=done).exists()
        finally:
            with tenant_context(district):
                Finding.objects.filter(run_id__in=made).delete()
                Finding.objects.filter(last_run_id__in=made).delete()
                AuditRun.objects.filter(pk__in=made).delete()
                Resident.objects.filter(name__startswith=prefix).delete()
            remove_places(district, places)
        connection.set_schema_to_public()
