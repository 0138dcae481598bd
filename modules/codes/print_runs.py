"""A print run as a job (kernel.jobs): the worker issues the scope's missing codes, writes the PDF and
the ZIP (modules.codes.printing) with progress saved on the run, and stores both under the district's
media prefix. ``services.create_print_run`` records the run QUEUED and queues the task by name;
``tasks.make_print_run`` runs it (``produce``); ``tasks.requeue_stale_print_runs`` is the sweep."""
from __future__ import annotations

import tempfile

from django.core.files import File
from django.db import connection, transaction
from django.utils import timezone

from kernel import audit, jobs
from modules.codes import printing, qr, selectors
from modules.codes.models import Code, PrintRun
from modules.codes.services import PRINT_RUN_TASK, issue_missing_codes
from modules.registry.models import Household, Merchant


def _prepare(run: PrintRun) -> PrintRun:
    """Issue the scope's missing codes and count what the run will print. A run found running again
    had its worker die (the runner holds its lock): it starts again from the beginning."""
    with transaction.atomic():
        run = PrintRun.objects.select_for_update().get(pk=run.pk)
        prefix = "grid__community__code" if run.scope_kind == "community" else "grid__community__street__code"
        place = {prefix: run.scope_code}
        if {Code.Kind.HOUSEHOLD, Code.Kind.OUTDOOR} & set(run.kinds):
            issue_missing_codes(actor=None, households=Household.objects.filter(**place))
        if {Code.Kind.MERCHANT, Code.Kind.STALL} & set(run.kinds):
            issue_missing_codes(actor=None, merchants=Merchant.objects.filter(active=True, **place))
        run.total = selectors.codes_in_scope(run.scope_kind, run.scope_code, run.kinds).count()
        run.done = 0
        run.save(update_fields=["total", "done"])
        audit.record(actor=None, action="codes.print.start", target=run, after={"total": run.total})
    return run


def _record_progress(run: PrintRun, done: int) -> None:
    """Progress ticks (bookkeeping, not audited: one audit entry per run state)."""
    PrintRun.objects.filter(pk=run.pk, status=PrintRun.Status.RUNNING).update(done=min(done, run.total))


def _finish(run: PrintRun, *, pdf, zip_file) -> None:
    with transaction.atomic():
        run = PrintRun.objects.select_for_update().get(pk=run.pk)
        run.pdf.save("codes.pdf", pdf, save=False)
        run.zip.save("codes-svg.zip", zip_file, save=False)
        run.status = PrintRun.Status.DONE
        run.done = run.total
        run.finished_at = timezone.now()
        run.save(update_fields=["pdf", "zip", "status", "done", "finished_at"])
        audit.record(actor=None, action="codes.print.done", target=run, after={"total": run.total})


def _make(run: PrintRun) -> None:
    """The job's work: codes, then the files."""
    run = _prepare(run)
    district = connection.tenant
    domain = selectors.district_domain(district)
    codes = selectors.codes_in_scope(run.scope_kind, run.scope_code, run.kinds).iterator(chunk_size=2000)
    items = (printing.Item(c.token, c.kind, c.label, qr.scan_url(domain, c.token)) for c in codes)
    with tempfile.TemporaryFile() as pdf, tempfile.TemporaryFile() as archive:
        printing.render(items, pdf_out=pdf, zip_out=archive, title=district.portal_title("zh-hans"),
                        color=district.primary_color, per_sheet=run.codes_per_sheet,
                        error=selectors.config()["error_correction"],
                        progress=lambda done: _record_progress(run, done))
        pdf.seek(0)
        archive.seek(0)
        _finish(run, pdf=File(pdf), zip_file=File(archive))


PRINT_RUNS = jobs.JobKind(lock="print-run", model=PrintRun, task=PRINT_RUN_TASK, work=_make,
                          failed_action="codes.print.failed", queued_since="created_at")


def produce(run: PrintRun) -> PrintRun | None:
    """Make a print run's files here (what the task runs): the run afterwards, or None when another
    worker is making it."""
    return jobs.run(PRINT_RUNS, run.pk)


def print_runs_to_requeue() -> list[int]:
    """Runs nobody is making although they should be (kernel.jobs.to_resume)."""
    return jobs.to_resume(PRINT_RUNS)
