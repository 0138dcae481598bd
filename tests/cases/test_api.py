"""The cases API: submit, scoped lists and filters, detail with timeline, pool, actions, figures,
the one error shape."""
import pytest
from django_tenants.utils import tenant_context

from kernel.services import update_module_config
from modules.cases.models import Case
from modules.catalog import catalog
from tests.conftest import client_for

pytestmark = pytest.mark.django_db
BASE = "/api/v1/cases/"


def post(client, url, data=None):
    return client.post(url, data or {}, format="json")


def test_resident_reports_and_the_worker_handles_it_to_the_end(world):
    d = world.district
    resident, worker = client_for(d, world.reporter), client_for(d, world.gw1)
    made = post(resident, BASE, {"category": "corridor_clutter", "title": "楼道堆物", "description": "三楼",
                                 "household": world.places["h1"].pk, "contact": "13912345678",
                                 "latitude": "39.608", "longitude": "109.781"})
    assert made.status_code == 201, made.content
    case = made.json()
    assert case["status"] == "assigned" and case["assignee"] == "gw1" and case["grid"] == "G0101"
    assert case["reporter_contact"] == "139****5678" and case["rlist_version"] == 1
    pk = case["id"]
    wrong = post(worker, f"{BASE}{pk}/resolve/", {"result": "x"})
    assert wrong.status_code == 409
    assert wrong.json()["error"]["code"] == "wrong_status" and "accepted or in_progress" in wrong.json()["error"][
        "message"]
    assert worker.get(f"{BASE}{pk}/").json()["actions"] == ["accept", "participant", "reject", "transfer"]
    assert resident.get(f"{BASE}{pk}/").json()["actions"] == []
    accepted = post(worker, f"{BASE}{pk}/accept/").json()
    assert accepted["status"] == "accepted" and "start" in accepted["actions"] and "accept" not in accepted["actions"]
    assert post(worker, f"{BASE}{pk}/start/").json()["status"] == "in_progress"
    no_result = post(worker, f"{BASE}{pk}/resolve/", {"result": ""})
    assert no_result.status_code == 400 and "result" in no_result.json()["error"]["fields"]
    assert post(worker, f"{BASE}{pk}/resolve/", {"result": "已清理"}).json()["status"] == "resolved"
    assert post(worker, f"{BASE}{pk}/confirm/", {"rating": 5}).status_code == 403
    bad = post(resident, f"{BASE}{pk}/confirm/", {"rating": 9})
    assert bad.status_code == 400 and "rating" in bad.json()["error"]["fields"]
    closed = post(resident, f"{BASE}{pk}/confirm/", {"rating": 5}).json()
    assert closed["status"] == "closed" and closed["rating"] == 5
    detail = resident.get(f"{BASE}{pk}/").json()
    assert [e["kind"] for e in detail["timeline"]] == ["submitted", "assigned", "accepted", "started", "resolved",
                                                       "confirmed"]
    assert detail["timeline"][2]["actor"] == "gw1"
    assert post(resident, f"{BASE}{pk}/reopen/", {"reason": "又堆上了"}).json()["status"] == "assigned"
    assert post(resident, f"{BASE}{pk}/fly/").status_code == 404


def test_lists_are_scoped_and_filtered(world):
    d = world.district
    mine = post(client_for(d, world.reporter), BASE, {"category": "noise", "title": "噪音",
                                                      "household": world.places["h1"].pk}).json()
    theirs = post(client_for(d, world.other_resident), BASE, {"category": "corridor_clutter", "title": "堆物",
                                                             "household": world.places["h3"].pk}).json()

    def ids(user, query=""):
        response = client_for(d, user).get(BASE + query)
        assert response.status_code == 200
        return {c["id"] for c in response.json()["results"]}

    assert ids(world.reporter) == {mine["id"]}
    assert ids(world.gw2) == {theirs["id"]}
    assert ids(world.staff_c1) == {mine["id"]}
    assert ids(world.admin) == {mine["id"], theirs["id"]}
    assert ids(world.admin, "?grid__code=G0201") == {theirs["id"]}
    assert ids(world.admin, "?category__code=noise&status=assigned") == {mine["id"]}
    assert ids(world.admin, "?status=closed") == set()
    assert client_for(d, world.other_resident).get(f"{BASE}{mine['id']}/").status_code == 404
    assert client_for(d, world.gw2).get(f"{BASE}{mine['id']}/").status_code == 404
    assert post(client_for(d, world.gw2), f"{BASE}{mine['id']}/accept/").status_code == 404
    assert client_for(d).get(BASE).status_code in (401, 403)


def test_pool_grab_and_errors(world):
    d = world.district
    made = post(client_for(d, world.reporter), BASE, {"category": "parking", "title": "乱停车",
                                                      "household": world.places["h1"].pk}).json()
    assert made["status"] == "submitted" and made["assign_mode"] == "grab"
    part_time, other_grid = client_for(d, world.gw1b), client_for(d, world.gw2)
    assert [c["id"] for c in part_time.get(f"{BASE}pool/").json()["results"]] == [made["id"]]
    assert other_grid.get(f"{BASE}pool/").json()["results"] == []
    assert post(other_grid, f"{BASE}{made['id']}/grab/").status_code == 404  # not their pool
    grabbed = post(part_time, f"{BASE}{made['id']}/grab/")
    assert grabbed.status_code == 200 and grabbed.json()["assignee"] == "gw1b"
    again = post(client_for(d, world.gw1), f"{BASE}{made['id']}/grab/")
    assert again.status_code == 409 and again.json()["error"]["status"] == 409


def test_transfer_reject_duplicate_and_participants_through_the_api(world):
    d = world.district
    reporter, staff = client_for(d, world.reporter), client_for(d, world.staff_c1)
    first = post(reporter, BASE, {"category": "noise", "title": "噪音", "household": world.places["h1"].pk}).json()
    second = post(reporter, BASE, {"category": "noise", "title": "又是噪音",
                                   "household": world.places["h1"].pk}).json()
    linked = post(staff, f"{BASE}{second['id']}/link-duplicate/", {"parent": first["ref"]})
    assert linked.status_code == 200 and linked.json()["parent"] == first["ref"]
    assert linked.json()["reject_reason"] == "duplicate"
    joined = post(staff, f"{BASE}{first['id']}/participants/", {"kind": "mediator", "username": "mediator"})
    assert joined.status_code == 200 and joined.json()["participants"][0]["user"] == "mediator"
    moved = post(staff, f"{BASE}{first['id']}/transfer/", {"unit_kind": "department", "unit_code": "urban",
                                                            "reason": "需要执法"})
    assert moved.status_code == 200 and moved.json()["responsible_kind"] == "department"
    dept = client_for(d, world.dept)
    rejected = post(dept, f"{BASE}{first['id']}/reject/", {"reason": "not_our_responsibility", "note": "属环保局"})
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert post(client_for(d, world.staff_c2), f"{BASE}{second['id']}/reject/",
                {"reason": "duplicate"}).status_code == 404


def test_idempotency_header_and_anonymous_reports(world):
    d = world.district
    resident = client_for(d, world.reporter)
    body = {"category": "noise", "title": "噪音", "grid": "G0201"}
    one = resident.post(BASE, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1").json()
    two = resident.post(BASE, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1").json()
    assert one["id"] == two["id"]
    anonymous = client_for(d)
    made = post(anonymous, BASE, body)
    assert made.status_code == 201 and made.json()["assignee"] == "gw2"
    too_long = post(anonymous, BASE, {**body, "title": "长" * 81})
    assert too_long.status_code == 400 and "title" in too_long.json()["error"]["fields"]
    unknown = post(anonymous, BASE, {**body, "grid": "G9999"})
    assert unknown.status_code == 400 and "grid" in unknown.json()["error"]["fields"]
    with tenant_context(d):
        update_module_config(actor=None, module_key="cases",
                             data=catalog["cases"].default_config() | {"anonymous_reports": False})
        assert Case.objects.count() == 2
    refused = post(anonymous, BASE, body)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"


def test_figures_endpoint(world):
    d = world.district
    post(client_for(d, world.reporter), BASE, {"category": "noise", "title": "噪音",
                                                "household": world.places["h1"].pk})
    rows = client_for(d, world.staff_c1).get(f"{BASE}figures/?by=grid").json()["results"]
    assert [(r["key"], r["total"], r["workload"], r["reply_rate"]) for r in rows] == [("G0101", 1, 1, 0.0)]
    assert client_for(d, world.gw2).get(f"{BASE}figures/?by=worker").json()["results"] == []
    assert client_for(d, world.reporter).get(f"{BASE}figures/").status_code == 403
    assert client_for(d, world.admin).get(f"{BASE}figures/?by=planet").status_code == 400


def test_module_off_answers_404(laixi):
    assert client_for(laixi).post(BASE, {}, format="json").status_code == 404


def test_openapi_schema_documents_the_cases_api(world):
    schema = client_for(world.district, world.admin).get("/api/schema/?format=json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {"/api/v1/cases/", "/api/v1/cases/{id}/", "/api/v1/cases/pool/", "/api/v1/cases/figures/",
            "/api/v1/cases/{id}/{action}/"} <= set(paths)


def test_duplicate_candidates_endpoint(world):
    d = world.district
    body = {"category": "corridor_clutter", "title": "楼道堆满纸箱", "household": world.places["h1"].pk}
    first = post(client_for(d, world.other_resident), BASE, body).json()
    second = post(client_for(d, world.reporter), BASE, body).json()
    found = client_for(d, world.gw1).get(f"{BASE}{second['id']}/duplicates/").json()["results"]
    assert [c["id"] for c in found] == [first["id"]] and found[0]["similarity"] == 1.0
    assert client_for(d, world.reporter).get(f"{BASE}{second['id']}/duplicates/").status_code == 403


def test_anonymous_callers_cannot_pose_as_the_hotline(world):
    refused = post(client_for(world.district), BASE, {"channel": "hotline", "category": "noise", "title": "x",
                                                      "grid": "G0201"})
    assert refused.status_code == 403


def test_admin_pages_open(world):
    from django.test import Client

    from tests.conftest import host

    client = Client(HTTP_HOST=host(world.district.slug))
    with tenant_context(world.district):
        client.force_login(world.admin, backend="django.contrib.auth.backends.ModelBackend")
    made = post(client_for(world.district, world.reporter), BASE, {"category": "noise", "title": "噪音",
                                                                    "household": world.places["h1"].pk}).json()
    for url in ("/admin/cases/case/", f"/admin/cases/case/{made['id']}/change/", "/admin/cases/responsibilitylist/",
                "/admin/cases/holiday/", "/admin/cases/category/"):
        assert client.get(url).status_code == 200, url


def test_a_report_is_accepted_and_dispatched_while_the_broker_is_down(world, monkeypatch,
                                                                     django_capture_on_commit_callbacks):
    """Nothing waits on the broker: the case is stored and dispatched, its event waits in the outbox,
    and the periodic sweep delivers it once the broker is back."""
    import os
    import threading

    from config.celery import app
    from kernel import events
    from kernel.models import OutboxEvent

    tried = []

    def broker_down(name, *args, **kwargs):
        tried.append(name)
        raise ConnectionError("broker down")

    monkeypatch.setattr(app, "send_task", broker_down)
    monkeypatch.setattr(events, "_broker_down_until", 0.0)
    monkeypatch.setattr(events, "_kick_thread", threading.current_thread())  # flush by hand below
    monkeypatch.setattr(events, "_kick_pid", os.getpid())
    d = world.district
    with django_capture_on_commit_callbacks(execute=True):
        made = post(client_for(d, world.reporter), BASE, {"category": "corridor_clutter", "title": "楼道堆物",
                                                          "household": world.places["h1"].pk})
    assert made.status_code == 201 and made.json()["status"] == "assigned" and made.json()["assignee"] == "gw1"
    assert events.flush_kicks() == 0 and tried == ["kernel.tasks.relay_outbox"]
    with tenant_context(d):
        event = OutboxEvent.objects.get(topic="cases.submitted", payload__case_id=made.json()["id"])
        assert event.delivered_at is None
        events.relay_pending()  # what the periodic sweep runs once the broker answers again
        event.refresh_from_db()
        assert event.delivered_at is not None


def test_categories_list_what_a_submission_may_name(world):
    from modules.cases import services

    anonymous = client_for(world.district)
    listed = anonymous.get(f"{BASE}categories/")
    assert listed.status_code == 200
    codes = [c["code"] for c in listed.json()["results"]]
    assert "corridor_clutter" in codes and codes == sorted(codes)
    with tenant_context(world.district):
        services.save_category(actor=world.admin, code="corridor_clutter", name_zh="楼道堆物", active=False)
    assert "corridor_clutter" not in [c["code"] for c in anonymous.get(f"{BASE}categories/").json()["results"]]
    # intake reads the categories from the cached routing snapshot: a deactivated one is refused at once
    refused = post(client_for(world.district, world.reporter), BASE,
                   {"category": "corridor_clutter", "title": "楼道堆物", "household": world.places["h1"].pk})
    assert refused.status_code == 400 and "category" in refused.json()["error"]["fields"]
    unknown = post(client_for(world.district, world.reporter), BASE, {"category": "nope", "title": "x"})
    assert unknown.status_code == 400 and "category" in unknown.json()["error"]["fields"]
