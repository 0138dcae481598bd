"""Creating a district: seconds per district by replaying migrations vs the pool path.

Run: ``.venv/bin/python bench/provisioning.py`` (``BENCH_N`` districts per path, default 3).

Both paths go through ``tenants.services.create_district`` with the same first admin and the same
modules, so each timing covers schema -> domain -> seeded module rules -> first admin -> active:

- migrations: ``create_district(use_pool=False)`` builds the schema by replaying every migration;
- pool: ``create_district(use_pool=True)`` claims a spare, already-migrated schema and renames it.
  The pool is filled before the clock starts (``fill_pool``), as the periodic task does in
  production; one ``add_spare()`` is timed on its own as the background cost of that.

Every pool district must report ``Created.from_pool`` and have no unapplied migration. The pool is
filled to ``max(spares found, DISTRICT_POOL_SIZE) + N`` so that it never drops below its target
while the clock runs (which would make the running Celery worker refill it concurrently and skew
the figures); any bench-made spare above that level is dropped at the end, and so are all the
``bench-*`` districts. Figures are JSON lines on stdout, logs on stderr.
"""
from __future__ import annotations

import contextlib
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from _support import bench_slug, drop_district, figure, log, quiet_stdout, setup_django, size

MODULES = ["registry", "codes", "cases", "points", "notices"]


def unapplied_migrations(district) -> list[str]:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor
    from django_tenants.utils import tenant_context

    with tenant_context(district):
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    connection.set_schema_to_public()
    return [f"{m.app_label}.{m.name}" for m, _backwards in plan]


def create_one(slug: str, *, use_pool: bool):
    from tenants.services import AdminSpec, create_district

    started = time.perf_counter()
    created = create_district(slug=slug, name_zh=f"基准{slug[-4:]}区", name_en=f"Bench {slug}", modules=MODULES,
                              admin=AdminSpec(username="admin", password="bench-pass-12345",
                                              display_name="基准管理员"),
                              use_pool=use_pool)
    seconds = time.perf_counter() - started
    steps = ", ".join(f"{k} {v:.3f}s" for k, v in created.timings.items())
    log(f"  {slug}: {seconds:.3f}s (from_pool={created.from_pool}; {steps})")
    if created.admin is None:
        raise SystemExit(f"{slug}: no first admin was created")
    return created, seconds


@contextlib.contextmanager
def local_stripe():
    """A localstripe server for the run, and the settings pointing the billing gateway at it."""
    from django.conf import settings

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url, key = f"http://127.0.0.1:{port}", "sk_test_bench"
    with tempfile.TemporaryDirectory() as where:
        proc = subprocess.Popen([sys.executable, "-m", "localstripe", "--port", str(port), "--from-scratch"],
                                cwd=where, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        names = ("STRIPE_API_BASE", "STRIPE_SECRET_KEY", "STRIPE_SUPPORTS_SEND_INVOICE",
                 "STRIPE_SUPPORTS_METER_EVENTS", "STRIPE_MAX_NETWORK_RETRIES")
        before = {n: getattr(settings, n, None) for n in names}
        try:
            deadline = time.time() + 30
            while True:
                try:
                    request = urllib.request.Request(f"{url}/v1/customers?limit=1",
                                                     headers={"Authorization": f"Bearer {key}"})
                    with urllib.request.urlopen(request, timeout=1):
                        break
                except OSError:
                    if proc.poll() is not None or time.time() > deadline:
                        raise SystemExit("localstripe did not start (pip install localstripe)")
                    time.sleep(0.1)
            for name, value in zip(names, (url, key, False, False, 0), strict=True):
                setattr(settings, name, value)
            log(f"billing step: localstripe at {url}")
            yield
        finally:
            for name, value in before.items():
                setattr(settings, name, value)
            proc.terminate()
            proc.wait(10)


class Onboarding:
    """A bench vendor and its people (platform users), made once and removed at the end."""

    def __init__(self):
        import secrets

        from django.db import transaction

        from accounts.services import create_user
        from tenants.services import create_vendor, grant_platform_role

        token = secrets.token_hex(4)
        self.vendor = create_vendor(actor=None, slug=f"bench-vendor-{token}", name_zh="基准服务商")
        with transaction.atomic():
            self.vendor_user = create_user(actor=None, username=f"bench-vendor-{token}")
            self.ops_user = create_user(actor=None, username=f"bench-ops-{token}")
        grant_platform_role(actor=None, user=self.vendor_user, role="vendor", vendor=self.vendor)
        grant_platform_role(actor=None, user=self.ops_user, role="ops")

    def approve_to_provisioned(self, slug: str) -> float:
        from onboarding.provisioning import provision
        from onboarding.services import approve_application, create_application
        from onboarding.services.rules import DPA_VERSION

        data = {"name_zh": f"基准{slug[-4:]}区", "name_en": f"Bench {slug}", "region_code": "150603", "slug": slug,
                "contact_name": "基准联系人", "contact_phone": "13912345678", "contact_email": "bench@example.cn",
                "population": 100000, "modules": MODULES, "seed_template": "default", "plan_key": "standard",
                "dpa_accepted": True, "dpa_signer": "基准联系人", "dpa_version": DPA_VERSION}
        application = create_application(actor=self.vendor_user, vendor=self.vendor, data=data, submit=True)
        started = time.perf_counter()
        run = approve_application(actor=self.ops_user, application=application, reason="bench")
        run = provision(run.pk)
        seconds = time.perf_counter() - started
        if run is None or run.status != "done":
            raise SystemExit(f"{slug}: provisioning did not finish: {run and run.error}")
        steps = ", ".join(f"{s.key} {s.seconds:.3f}s" for s in run.steps.order_by("order") if s.seconds is not None)
        log(f"  {slug}: approve -> provisioned {seconds:.3f}s ({steps})")
        return seconds

    def remove_applications(self) -> None:
        from django.db import connection

        from onboarding.models import Application

        connection.set_schema_to_public()
        Application.objects.filter(vendor=self.vendor).delete()

    def remove_billing(self, slugs) -> None:
        """The billing step's rows of the bench districts (they PROTECT their district)."""
        from django.apps import apps

        if apps.is_installed("billing"):
            for model in apps.get_app_config("billing").get_models():
                if any(f.name == "district" for f in model._meta.fields):
                    model.objects.filter(district__slug__in=slugs).delete()

    def remove(self) -> None:
        from django.db import connection

        from accounts.models import User
        from kernel.models import AuditEntry
        from tenants.models import PlatformMembership, Vendor

        connection.set_schema_to_public()
        users = [self.vendor_user.pk, self.ops_user.pk]
        self.remove_applications()
        AuditEntry.objects.filter(actor_id__in=users).update(actor=None)
        PlatformMembership.objects.filter(user_id__in=users).delete()
        User.objects.filter(pk__in=users)._raw_delete(using="default")  # public users: no district tables to visit
        Vendor.objects.filter(pk=self.vendor.pk).delete()


def main() -> int:
    n = size(3, 1, env="BENCH_N")
    setup_django()
    from django.conf import settings
    from django.db import connection

    from tenants.models import District
    from tenants.services import add_spare, fill_pool, pool_size

    connection.set_schema_to_public()
    spares_before = set(District.objects.filter(status=District.Status.SPARE).values_list("pk", flat=True))
    keep = max(len(spares_before), settings.DISTRICT_POOL_SIZE)
    slugs: list[str] = []
    bench_spares: list[str] = []  # schema names of spares this run made, oldest first
    failed = False
    onboarding = None
    try:
        with quiet_stdout():
            # The background cost: one spare schema, built by replaying every migration. It stays in
            # the pool (and warms the migration loader for the timings below).
            started = time.perf_counter()
            spare = add_spare()
            spare_seconds = time.perf_counter() - started
            bench_spares.append(spare.schema_name)
            log(f"add_spare: {spare_seconds:.3f}s ({spare.schema_name})")

            target = keep + 2 * n  # the pool path and the onboarding path
            started = time.perf_counter()
            before_fill = set(District.objects.filter(status=District.Status.SPARE).values_list("schema_name",
                                                                                                 flat=True))
            made = fill_pool(target)
            bench_spares += sorted(set(District.objects.filter(status=District.Status.SPARE)
                                       .values_list("schema_name", flat=True)) - before_fill)
            log(f"fill_pool({target}): made {made} spare(s) in {time.perf_counter() - started:.1f}s, untimed; "
                f"pool now {pool_size()}")

            log(f"migrations path, {n} district(s):")
            migration_seconds = []
            for _ in range(n):
                slug = bench_slug()
                slugs.append(slug)
                created, seconds = create_one(slug, use_pool=False)
                if created.from_pool:
                    raise SystemExit(f"{slug}: use_pool=False but the district came from the pool")
                migration_seconds.append(seconds)

            log(f"pool path, {n} district(s):")
            pool_seconds = []
            for _ in range(n):
                slug = bench_slug()
                slugs.append(slug)
                created, seconds = create_one(slug, use_pool=True)
                if not created.from_pool:
                    raise SystemExit(f"{slug}: the pool was empty, the district was built by migrations")
                missing = unapplied_migrations(created.district)
                if missing:
                    raise SystemExit(f"{slug}: claimed a stale spare, unapplied migrations: {missing}")
                pool_seconds.append(seconds)
            log("every pool district: from_pool=True, no unapplied migration")

            log(f"onboarding path (approve -> provisioned, every registered step), {n} district(s):")
            onboarding = Onboarding()
            onboarding_seconds = []
            with local_stripe():
                for _ in range(n):
                    slug = bench_slug()
                    slugs.append(slug)
                    onboarding_seconds.append(onboarding.approve_to_provisioned(slug))
            from django.contrib.auth.hashers import make_password

            started = time.perf_counter()
            make_password("bench-pass-12345")
            log(f"(of each seed step, hashing the first admin's password takes {time.perf_counter() - started:.3f}s)")
    except BaseException:
        failed = True
        raise
    finally:
        with quiet_stdout():
            if onboarding is not None:  # its rows first (they point at the districts), then the rest
                onboarding.remove_applications()
                onboarding.remove_billing(slugs)
            for slug in slugs:
                drop_district(slug=slug)
            if onboarding is not None:
                onboarding.remove()
            # Leave the pool as full as we found it (and at least at its target), not fuller.
            connection.set_schema_to_public()
            remaining = set(District.objects.filter(status=District.Status.SPARE).values_list("schema_name",
                                                                                               flat=True))
            surplus = pool_size() - keep
            for schema in reversed(bench_spares):
                if surplus <= 0:
                    break
                if schema in remaining:
                    drop_district(schema_name=schema)
                    surplus -= 1
            log(f"dropped {len(slugs)} bench district(s); pool left at {pool_size()} spare(s)"
                + (" (after a failure)" if failed else ""))

    mig_mean = statistics.fmean(migration_seconds)
    pool_mean = statistics.fmean(pool_seconds)
    figure("provisioning_migrations_seconds_per_district", round(mig_mean, 3), "s")
    figure("provisioning_migrations_seconds_max", round(max(migration_seconds), 3), "s")
    figure("provisioning_pool_seconds_per_district", round(pool_mean, 3), "s", "< 1 s")
    figure("provisioning_pool_seconds_max", round(max(pool_seconds), 3), "s", "< 1 s")
    figure("provisioning_speedup", round(mig_mean / pool_mean, 1), "x")
    figure("pool_spare_creation_seconds", round(spare_seconds, 3), "s")
    figure("onboarding_approve_to_provisioned_seconds", round(statistics.fmean(onboarding_seconds), 3), "s", "< 1 s")
    figure("onboarding_approve_to_provisioned_seconds_max", round(max(onboarding_seconds), 3), "s", "< 1 s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
