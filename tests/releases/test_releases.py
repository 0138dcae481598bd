"""Releases across every district (issue 12, item 5): the report shows a district behind when one of
its migrations is unapplied; ``migrate_all`` records a district whose migration breaks as failed while
every other schema migrates; the console shows it and a retry from there (a recorded job) fixes it
once the cause is gone; vendors and finance get 403; every step is in the audit log.

The migrations run for real on committed data (pool workers and the job runner use connections of
their own), on a throwaway district of this module made with ``create_district(use_pool=False)`` and
dropped at the end with every row this module committed. Its failure is honest: the district is taken
back one migration (``migrate_schemas --schema d_relcheck codes 0001_initial``: the ``heartbeat_at``
column of ``codes_printrun`` goes), and then someone adds a column of that name by hand — the drift a
hot fix leaves behind — so applying ``codes.0002_print_run_heartbeat`` fails with "already exists".
"""
from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from rest_framework.test import APIClient

from tests.conftest import PASSWORD

SLUG, SCHEMA = "relcheck", "d_relcheck"


def _sql(statement: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement)


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    from accounts.services import create_user
    from kernel.models import AuditEntry
    from tenants.models import District, Domain
    from tenants.releases.models import ReleaseRun
    from tenants.services import create_district, create_vendor, grant_platform_role

    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        first_run = ReleaseRun.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        first_audit = AuditEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        create_district(slug=SLUG, name_zh="发布检查区", name_en="Relcheck", modules=["codes"], use_pool=False)
        connection.set_schema_to_public()
        vendor = create_vendor(actor=None, slug="rel-vendor", name_zh="发布测试供应商")
        users = {}
        from django.db import transaction

        for name, role in (("rel-ops", "ops"), ("rel-finance", "finance"), ("rel-vendor", "vendor")):
            with transaction.atomic():
                users[name] = create_user(actor=None, username=name, password=PASSWORD)
            grant_platform_role(actor=None, user=users[name], role=role, vendor=vendor if role == "vendor" else None)
        try:
            yield users
        finally:
            connection.set_schema_to_public()
            _sql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
            Domain.objects.filter(tenant__slug=SLUG).delete()
            District.objects.filter(slug=SLUG).delete()
            ReleaseRun.objects.filter(pk__gt=first_run).delete()
            AuditEntry.objects.filter(pk__gt=first_audit).delete()
            for user in users.values():
                user.platform_memberships.all().delete()
            vendor.delete()
            # Raw: the ORM's cascade would also look into tenant-only tables (inbox messages) from public.
            with connection.cursor() as cursor:
                cursor.execute("DELETE FROM accounts_user WHERE id = ANY(%s)", [[u.pk for u in users.values()]])


def client(user) -> APIClient:
    api = APIClient(HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="en")
    api.force_login(user)
    return api


def row(schema: str):
    from tenants.releases import selectors

    return next(r for r in selectors.report() if r.schema_name == schema)


def test_behind_then_failed_then_retried_from_the_console(world, django_db_blocker, monkeypatch):
    from config.celery import app
    from kernel.models import AuditEntry
    from tenants.releases.models import ReleaseOutcome, ReleaseRun

    monkeypatch.setitem(app.conf, "task_always_eager", True)  # the retry job runs here, through kernel.jobs
    ops = client(world["rel-ops"])
    with django_db_blocker.unblock():
        # 1. One migration unapplied: the report says behind, naming the app, the latest and the leaf.
        call_command("migrate_schemas", "codes", "0001_initial", schema_name=SCHEMA, interactive=False, verbosity=0)
        connection.set_schema_to_public()
        behind = row(SCHEMA)
        assert behind.behind and not behind.failed
        assert [(a.app, a.latest, a.leaf, a.missing) for a in behind.behind_apps] == [
            ("codes", "0001_initial", "0002_print_run_heartbeat", ["0002_print_run_heartbeat"])]
        assert not row("d_kangbashi").behind
        listed = ops.get("/api/v1/releases/", {"only": "behind"}).json()
        assert SCHEMA in [r["schema_name"] for r in listed["results"]]
        assert "d_kangbashi" not in [r["schema_name"] for r in listed["results"]]
        codes = next(a for a in listed["results"][0]["apps"] if a["app"] == "codes")
        assert codes == {"app": "codes", "latest": "0001_initial", "leaf": "0002_print_run_heartbeat",
                         "missing": ["0002_print_run_heartbeat"], "behind": True}

        # 2. A hand-made column of the same name: this district's migration fails, the others go on.
        _sql(f"ALTER TABLE {SCHEMA}.codes_printrun ADD COLUMN heartbeat_at text")
        with pytest.raises(CommandError, match="1 schema"):
            call_command("migrate_all", processes=2)
        connection.set_schema_to_public()
        run = ReleaseRun.objects.filter(kind="all").latest("pk")
        assert run.status == "failed" and run.executor == "multiprocessing" and run.failed == 1
        assert run.ok == run.total - 1 and run.total >= 5  # the test districts and this one, spares too
        outcomes = {o.schema_name: o for o in run.outcomes.all()}
        assert outcomes[SCHEMA].status == "failed" and "already exists" in outcomes[SCHEMA].error
        assert outcomes[SCHEMA].applied["codes"] == "0001_initial" and outcomes[SCHEMA].behind == 1
        assert outcomes["d_kangbashi"].status == "ok" and outcomes["d_kangbashi"].behind == 0
        assert outcomes["d_kangbashi"].applied["codes"] == "0002_print_run_heartbeat"
        assert outcomes["d_kangbashi"].seconds is not None
        failed = row(SCHEMA)
        assert failed.failed and failed.behind and not row("d_laixi").failed

        # 3. The console page shows it, failed first, with its error and a retry form.
        page = ops.get("/console/releases/?only=failed")
        text = page.content.decode()
        assert page.status_code == 200 and f'data-schema="{SCHEMA}"' in text and "already exists" in text
        assert 'data-schema="d_kangbashi"' not in text and f"/console/releases/{SLUG}/retry/" in text

        # 4. A retry without the confirmation changes nothing; confirmed while still broken, it is a
        #    recorded job that fails again, in words.
        before = ReleaseRun.objects.count()
        assert ops.post(f"/console/releases/{SLUG}/retry/", {"reason": "try again"}).status_code == 302
        assert ReleaseRun.objects.count() == before
        assert ops.post(f"/console/releases/{SLUG}/retry/", {"reason": "try again", "confirm": "1"}).status_code == 302
        again = ReleaseRun.objects.latest("pk")
        assert again.kind == "retry" and again.schema_name == SCHEMA and again.status == "failed"
        assert row(SCHEMA).failed

        # 5. The operator removes the stray column (docs/releases.md runbook) and retries: fixed.
        _sql(f"ALTER TABLE {SCHEMA}.codes_printrun DROP COLUMN heartbeat_at")
        answer = ops.post(f"/console/releases/{SLUG}/retry/", {"reason": "stray column dropped", "confirm": "1"},
                          follow=True)
        assert answer.status_code == 200
        fixed = ReleaseRun.objects.latest("pk")
        assert fixed.status == "done" and fixed.ok == 1 and fixed.actor == world["rel-ops"]
        outcome = fixed.outcomes.get()
        assert outcome.status == "ok" and outcome.applied["codes"] == "0002_print_run_heartbeat"
        now = row(SCHEMA)
        assert not now.failed and not now.behind
        assert ReleaseOutcome.objects.filter(schema_name=SCHEMA, status="failed").count() == 2  # history kept
        assert f'data-schema="{SCHEMA}"' not in ops.get("/console/releases/?only=failed").content.decode()
        call_command("migrate_all", executor="standard")  # the next release: clean, one schema at a time
        connection.set_schema_to_public()
        clean = ReleaseRun.objects.filter(kind="all").latest("pk")
        assert (clean.status, clean.executor, clean.failed, clean.ok) == ("done", "standard", 0, clean.total)

        # 6. Audited: who retried which district and why, and how each run ended.
        retries = AuditEntry.objects.filter(action="release.retry", target_id__in=[str(again.pk), str(fixed.pk)])
        assert {(e.actor_id, e.after["schema"], e.after["reason"]) for e in retries} == {
            (world["rel-ops"].pk, SCHEMA, "try again"), (world["rel-ops"].pk, SCHEMA, "stray column dropped")}
        assert AuditEntry.objects.filter(action="release.failed", target_id=str(run.pk)).exists()
        assert AuditEntry.objects.filter(action="release.done", target_id=str(fixed.pk)).exists()
        assert AuditEntry.objects.filter(action="release.start", target_id=str(run.pk)).exists()

        # 7. The API: runs with their outcomes, and a retry needs a reason.
        runs = ops.get("/api/v1/releases/runs/").json()
        assert runs["results"][0]["id"] == clean.pk and "count" in runs
        detail = ops.get(f"/api/v1/releases/runs/{run.pk}/").json()
        assert {o["schema_name"]: o["status"] for o in detail["outcomes"]}[SCHEMA] == "failed"
        no_reason = ops.post(f"/api/v1/releases/{SLUG}/retry/", {}, format="json")
        assert no_reason.status_code == 400 and "reason" in no_reason.json()["error"]["fields"]
        assert ops.get("/api/v1/releases/", {"only": "nonsense"}).status_code == 400


def test_vendor_and_finance_get_403_and_change_nothing(world, django_db_blocker):
    from tenants.releases.models import ReleaseRun

    with django_db_blocker.unblock():
        before = ReleaseRun.objects.count()
        for name in ("rel-vendor", "rel-finance"):
            other = client(world[name])
            assert other.get("/console/releases/").status_code == 403
            assert other.get("/api/v1/releases/").status_code == 403
            assert other.get("/api/v1/releases/runs/").status_code == 403
            assert other.post(f"/api/v1/releases/{SLUG}/retry/", {"reason": "x"}, format="json").status_code == 403
            assert other.post(f"/console/releases/{SLUG}/retry/", {"reason": "x", "confirm": "1"}).status_code == 403
        assert APIClient(HTTP_HOST="localhost").get("/console/releases/").status_code == 302  # sign in first
        ops = client(world["rel-ops"])
        assert ops.post("/api/v1/releases/nowhere/retry/", {"reason": "x"}, format="json").status_code == 404
        assert ReleaseRun.objects.count() == before


@pytest.mark.django_db
def test_a_second_retry_of_the_same_district_is_not_doubled(world):
    """In the test's transaction (rolled back: the job's kick, sent on commit, never leaves)."""
    from kernel.errors import DomainError
    from kernel.models import JobStatus
    from tenants.models import District
    from tenants.releases import services
    from tenants.releases.models import ReleaseRun

    connection.set_schema_to_public()
    district = District.objects.get(slug=SLUG)
    first = services.retry_district(actor=world["rel-ops"], district=district, reason="one")
    second = services.retry_district(actor=world["rel-ops"], district=district, reason="two")
    assert first.pk == second.pk and first.status == JobStatus.QUEUED
    assert ReleaseRun.objects.filter(schema_name=SCHEMA, status=JobStatus.QUEUED).count() == 1
    with pytest.raises(DomainError) as no_reason:
        services.retry_district(actor=world["rel-ops"], district=district, reason="  ")
    assert "reason" in no_reason.value.fields


@pytest.mark.django_db
def test_the_platform_schema_documents_releases_with_types():
    doc = APIClient(HTTP_HOST="localhost").get("/api/schema/?format=json").json()
    report = doc["paths"]["/api/v1/releases/"]["get"]
    assert {"name": "only", "enum": ["behind", "failed"]}.items() <= {
        **next(p for p in report["parameters"] if p["name"] == "only"),
        "enum": next(p for p in report["parameters"] if p["name"] == "only")["schema"]["enum"]}.items()
    page = report["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    row = doc["components"]["schemas"][page]["properties"]["results"]["items"]["$ref"].rsplit("/", 1)[1]
    props = doc["components"]["schemas"][row]["properties"]
    assert props["behind"]["type"] == "boolean" and props["failed"]["type"] == "boolean"
    assert props["apps"]["type"] == "array" and "$ref" in props["apps"]["items"]
    assert "202" in doc["paths"]["/api/v1/releases/{slug}/retry/"]["post"]["responses"]
    assert "/api/v1/releases/runs/{id}/" in doc["paths"]


@pytest.mark.django_db
def test_the_sweep_takes_over_a_dead_retry_but_never_a_run_of_every_schema():
    import datetime as dt

    from django.utils import timezone

    from tenants.releases import jobs
    from tenants.releases.models import ReleaseRun

    connection.set_schema_to_public()
    long_ago = timezone.now() - dt.timedelta(minutes=10)
    retry = ReleaseRun.objects.create(kind="retry", schema_name="d_kangbashi", status="running",
                                      started_at=long_ago, heartbeat_at=long_ago)
    everything = ReleaseRun.objects.create(kind="all", status="running", started_at=long_ago, heartbeat_at=long_ago)
    found = jobs.to_requeue()
    assert retry.pk in found and everything.pk not in found


@pytest.mark.django_db
def test_two_releases_never_run_at_once():
    from tenants.releases import services
    from tenants.releases.models import ReleaseRun

    connection.set_schema_to_public()
    run = ReleaseRun.objects.create(kind="retry", schema_name="d_kangbashi")
    with services.release_lock() as got:
        assert got
        with pytest.raises(services.ReleaseBusy):
            services.execute(run)
        with services.release_lock() as second:
            assert not second
    run.refresh_from_db()
    assert run.status == "queued" and not run.outcomes.exists()  # refused before touching anything
