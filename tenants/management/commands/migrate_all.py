"""``manage.py migrate_all [--executor multiprocessing|standard] [--processes N]``: a release.

Runs django-tenants' ``migrate_schemas`` over every schema — shared first, then each district schema
(pool spares included) on its own, in parallel by default — and records a Release run (tenants/releases):
per schema ok or failed with the error in words, its seconds, and its migration state afterwards. One
failed district does not stop the others; it is shown on /console/releases/ and retried from there.
Exit status 1 when any schema failed. See docs/releases.md.
"""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from kernel.errors import DomainError


class Command(BaseCommand):
    help = __doc__.splitlines()[0]

    def add_arguments(self, parser):
        parser.add_argument("--executor", choices=["multiprocessing", "standard"], default="multiprocessing",
                            help="multiprocessing (default): N schemas at once; standard: one after another")
        parser.add_argument("--processes", type=int, default=None,
                            help="worker processes (default TENANT_MULTIPROCESSING_MAX_PROCESSES)")

    def handle(self, *args, executor: str, processes: int | None, verbosity: int, **options):
        from tenants.releases import selectors, services

        if processes is not None and processes < 1:
            raise CommandError("--processes must be 1 or more")
        run = services.start_all(executor=executor, processes=processes)
        self.stdout.write(f"release {run.pk}: {executor}, {run.processes} process(es)")
        try:
            run = services.execute(run, verbosity=max(verbosity - 1, 0))
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"release {run.pk}: shared {run.shared_seconds or 0:.1f} s, {run.ok} of {run.total} "
                          f"schemas ok, {run.failed} failed, {run.seconds:.1f} s in all")
        for outcome in run.outcomes.filter(status="failed"):
            self.stderr.write(f"  FAILED {outcome.schema_name}: {outcome.error}")
        behind = [r.schema_name for r in selectors.report(only="behind")]
        if behind:
            self.stderr.write(f"  still behind the code: {', '.join(behind[:20])}")
        if run.failed:
            raise CommandError(f"{run.failed} schema(s) failed: retry them from /console/releases/ "
                               "(docs/releases.md, 'A failed district')")
