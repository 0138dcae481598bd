"""The codes API: lists by place within the caller's area, issue and re-issue, print runs (create,
validation, permissions), the staff pages."""
from __future__ import annotations

import pytest

from modules.codes.models import Code, PrintRun
from tests.codes.conftest import delete_run_files
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def ids(response):
    assert response.status_code == 200, response.content[:400]
    return {row["id"] for row in response.json()["results"]}


def test_staff_list_the_codes_of_their_area_only(place, codes):
    grid1 = {codes[k].pk for k in ("h1", "h1_outdoor", "h2", "h2_outdoor", "shop", "stall")}
    grid2 = {codes["h3"].pk, codes["h3_outdoor"].pk}
    assert ids(client_for(place.district, place.worker).get("/api/v1/codes/codes/")) == grid1
    assert ids(client_for(place.district, place.worker2).get("/api/v1/codes/codes/")) == grid2
    staff = client_for(place.district, place.staff)
    assert ids(staff.get("/api/v1/codes/codes/")) == grid1 | grid2
    assert ids(staff.get("/api/v1/codes/codes/", {"grid": place.grid2.code})) == grid2
    assert ids(staff.get("/api/v1/codes/codes/", {"household": place.h1.pk, "kind": "outdoor"})) == {
        codes["h1_outdoor"].pk}
    admin = client_for(place.district, place.admin)
    assert codes["official"].pk in ids(admin.get("/api/v1/codes/codes/", {"official": place.official.pk}))
    one = admin.get(f"/api/v1/codes/codes/{codes['h1'].pk}/").json()
    assert one["url"] == f"https://kangbashi.localhost/c/{codes['h1'].token}" and one["label"] == place.h1.address
    assert client_for(place.district, place.head_user).get("/api/v1/codes/codes/").status_code == 403
    assert client_for(place.district).get("/api/v1/codes/codes/").status_code == 401
    hidden = client_for(place.district, place.worker2).get(f"/api/v1/codes/codes/{codes['h1'].pk}/")
    assert hidden.status_code == 404


def test_issue_and_reissue_through_the_api(place):
    client = client_for(place.district, place.worker, token=True)
    made = client.post("/api/v1/codes/codes/issue/", {"household": place.h1.pk}, format="json")
    assert made.status_code == 201 and [c["kind"] for c in made.json()] == ["household", "outdoor"]
    again = client.post("/api/v1/codes/codes/issue/", {"household": place.h1.pk}, format="json").json()
    assert [c["token"] for c in again] == [c["token"] for c in made.json()]
    both = client.post("/api/v1/codes/codes/issue/", {"household": place.h1.pk, "merchant": place.shop.pk},
                       format="json")
    assert both.status_code == 400 and "target" in both.json()["error"]["fields"]
    outside = client.post("/api/v1/codes/codes/issue/", {"household": place.h3.pk}, format="json")
    assert outside.status_code == 403
    code_id = made.json()[1]["id"]
    no_reason = client.post(f"/api/v1/codes/codes/{code_id}/reissue/", {}, format="json")
    assert no_reason.status_code == 400 and no_reason.json()["error"]["fields"] == {"reason": ["This field is required."]}
    new = client.post(f"/api/v1/codes/codes/{code_id}/reissue/", {"reason": "门牌丢失"}, format="json")
    assert new.status_code == 201 and new.json()["kind"] == "outdoor" and new.json()["status"] == "active"
    old = client.get(f"/api/v1/codes/codes/{code_id}/").json()
    assert old["status"] == "revoked" and old["replaced_by"] == new.json()["id"] and old["reason"] == "门牌丢失"


def test_print_runs_are_checked_and_queued(place, codes):
    staff = client_for(place.district, place.staff)
    bad = staff.post("/api/v1/codes/print-runs/", {"scope_kind": "community", "scope_code": "NOPE",
                                                   "kinds": ["household"]}, format="json")
    assert bad.status_code == 400 and "scope_code" in bad.json()["error"]["fields"]
    bad = staff.post("/api/v1/codes/print-runs/", {"scope_kind": "community", "scope_code": place.community.code,
                                                   "kinds": ["official"]}, format="json")
    assert bad.status_code == 400 and "kinds" in bad.json()["error"]["fields"]
    bad = staff.post("/api/v1/codes/print-runs/", {"scope_kind": "community", "scope_code": place.community.code,
                                                   "kinds": ["household"], "codes_per_sheet": 5}, format="json")
    assert bad.status_code == 400 and "codes_per_sheet" in bad.json()["error"]["fields"]
    street = staff.post("/api/v1/codes/print-runs/", {"scope_kind": "street", "scope_code": place.street.code,
                                                      "kinds": ["household"]}, format="json")
    assert street.status_code == 403  # community staff: their own community, not the whole street
    worker = client_for(place.district, place.worker).post(
        "/api/v1/codes/print-runs/", {"scope_kind": "community", "scope_code": place.community.code,
                                      "kinds": ["household"]}, format="json")
    assert worker.status_code == 403
    made = staff.post("/api/v1/codes/print-runs/", {"scope_kind": "community", "scope_code": place.community.code,
                                                    "kinds": ["household", "outdoor"]}, format="json")
    assert made.status_code == 202, made.json()
    run = made.json()
    assert run["status"] == "queued" and run["scope_name"] == "阳光社区" and run["codes_per_sheet"] == 8
    assert run["pdf_url"] is None
    early = staff.get(f"/api/v1/codes/print-runs/{run['id']}/pdf/")
    assert early.status_code == 409 and early.json()["error"]["code"] == "not_ready"
    assert ids(staff.get("/api/v1/codes/print-runs/")) == {run["id"]}
    assert client_for(place.district, place.worker).get("/api/v1/codes/print-runs/").status_code == 200


def test_a_print_run_made_in_process_numbers_and_files(place, codes, settings, tmp_path):
    """The task's work, run here (the real worker is tested in test_print.py)."""
    import os

    from modules.codes import print_runs, services

    settings.MEDIA_ROOT = tmp_path

    with place:
        run = services.create_print_run(actor=place.staff, scope_kind="community", scope_code=place.community.code,
                                        kinds=["household", "outdoor", "stall"])
        done = print_runs.produce(run)
    try:
        with place:
            assert done.status == PrintRun.Status.DONE and done.total == done.done == 7
            assert done.pdf.name.startswith("codes/print-runs/") and done.pdf.size > 1000
            where = os.path.relpath(done.pdf.storage.path(done.pdf.name), tmp_path)
            assert where.startswith(f"{place.district.schema_name}/codes/print-runs/")  # the district's prefix
            again = print_runs.produce(done)  # a late delivery of a finished run makes nothing again
            assert again.status == PrintRun.Status.DONE and again.pdf.name == done.pdf.name
        page = client_for(place.district, place.staff).get(f"/codes/print-runs/{done.pk}/")
        assert 'data-status="done"' in page.content.decode()
        pdf = client_for(place.district, place.staff).get(f"/codes/print-runs/{done.pk}/pdf/")
        assert pdf.status_code == 200 and b"".join(pdf.streaming_content).startswith(b"%PDF")
        assert client_for(place.district, place.worker).get(f"/codes/print-runs/{done.pk}/pdf/").status_code == 404
    finally:
        with place:
            delete_run_files(done)


def test_staff_pages_open(place, codes):
    staff = client_for(place.district, place.staff)
    for path in ("/codes/", "/codes/bindings/", "/codes/print-runs/", f"/codes/code/{codes['h1'].token}/"):
        response = staff.get(path)
        assert response.status_code == 200, path
    assert client_for(place.district, place.head_user).get("/codes/bindings/").status_code == 403
    assert client_for(place.district).get("/codes/print-runs/").status_code == 302
    form = staff.post("/codes/print-runs/", {"scope": f"community:{place.community.code}", "kinds": ["household"],
                                             "codes_per_sheet": "24"})
    assert form.status_code == 302
    with place:
        run = PrintRun.objects.get()
        assert run.codes_per_sheet == 24 and run.kinds == ["household"]
        assert Code.objects.filter(status="active").count() >= 8


@pytest.fixture
def eager_celery():
    from config.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


def test_a_print_run_whose_worker_died_is_made_by_the_sweep_within_a_minute(place, codes, settings, tmp_path,
                                                                            eager_celery):
    """Heartbeat stopped a minute ago: the sweep (every minute) queues it again and it is made once. One
    that beats, or whose lock a worker holds, is left to its worker."""
    import datetime as dt

    from django.db import connections
    from django.utils import timezone

    from kernel import jobs
    from kernel.locks import lock_key
    from modules.codes import print_runs, services, tasks

    settings.MEDIA_ROOT = tmp_path
    now = timezone.now()
    with place:
        run = services.create_print_run(actor=place.staff, scope_kind="community", scope_code=place.community.code,
                                        kinds=["household", "outdoor", "stall"])
        codes_before = Code.objects.count()
        # Its worker marked it running two minutes ago and is alive: it beats. Left alone.
        PrintRun.objects.filter(pk=run.pk).update(status="running", started_at=now - dt.timedelta(minutes=20),
                                                  heartbeat_at=now)
        assert tasks.requeue_stale_print_runs() == 0
        other = connections.create_connection("default")  # alive, slow, and holding the run's lock
        try:
            other.set_schema(place.district.schema_name)
            with other.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [lock_key("print-run", run.pk)])
            assert print_runs.produce(run) is None  # a redelivery does not start it a second time
        finally:
            other.close()
        # The worker died: no beat for a little over a minute.
        PrintRun.objects.filter(pk=run.pk).update(heartbeat_at=now - dt.timedelta(seconds=jobs.JOB_STALE_SECONDS + 5))
        assert tasks.requeue_stale_print_runs() == 1  # queued again, and (eager here) made at once
    with place:
        done = PrintRun.objects.get(pk=run.pk)
        try:
            assert done.status == PrintRun.Status.DONE and done.total == done.done == 7
            assert Code.objects.count() == codes_before  # nothing issued twice
            assert tasks.requeue_stale_print_runs() == 0
        finally:
            delete_run_files(done)
