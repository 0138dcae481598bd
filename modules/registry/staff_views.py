"""Staff pages of the registry: ledger import (upload → dry-run report → confirm → progress →
rejected rows) and the data audit (counts over time, findings with confirm / fix / dismiss).
Thin: parse the form, call a service or selector, render."""
from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header, url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from kernel.errors import DomainError
from kernel.permissions import has_role, role_required
from modules.registry import datachecks, ledger, selectors
from modules.registry.models import Finding, LedgerRow
from modules.registry.models_ledger import FINDING_KINDS

PAGE_SIZE = 50


@role_required(*ledger.IMPORTERS)
@require_http_methods(["GET", "POST"])
def ledger_upload(request):
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            messages.error(request, "请选择要上传的台账文件。Choose the ledger file to upload.")
        else:
            try:
                job = ledger.upload_ledger(actor=request.user, file=upload)
                return redirect("registry:ledger-job", pk=job.pk)
            except DomainError as exc:
                messages.error(request, exc.message)
        return redirect("registry:ledger")
    jobs = ledger.jobs_for(request.user)[:20]
    return render(request, "registry/ledger_upload.html", {
        "tab": "ledger", "jobs": jobs, "columns": ledger.COLUMNS, "max_mb": ledger.MAX_UPLOAD_BYTES // 2**20})


@role_required(*ledger.IMPORTERS)
@require_http_methods(["GET", "POST"])
def ledger_job(request, pk: int):
    job = get_object_or_404(ledger.jobs_for(request.user), pk=pk)
    if request.method == "POST":
        try:
            ledger.confirm_import(actor=request.user, job=job)
        except DomainError as exc:
            messages.error(request, exc.message)
        return redirect("registry:ledger-job", pk=job.pk)
    shown = request.GET.get("show", "rejected")
    statuses = {"rejected": LedgerRow.Status.REJECTED, "valid": "valid,imported", "unchanged": "unchanged",
                "all": None}
    rows = ledger.rows_of(job, status=statuses.get(shown, LedgerRow.Status.REJECTED))
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    full = selectors.sees_full_id_numbers(request.user)
    report = [{"line": r.line, "status": r.status, "status_label": r.get_status_display(), "problems": r.problems,
               **ledger.row_preview(r, job, full=full)} for r in page]
    return render(request, "registry/ledger_job.html", {
        "tab": "ledger", "job": job, "page": page, "report": report, "show": shown,
        "busy": job.status in ("queued", "running"), "poll_url": reverse("api-registry:ledger-import-detail", kwargs={"pk": job.pk}),
        "can_confirm": job.phase == "check" and job.status == "done" and job.valid_count > 0,
        "problem_counts": [(code, n, ledger.PROBLEM_LABELS.get(code, (code, code))) for code, n in
                           job.problem_counts.items()],
        "imported_before": list(ledger.same_file_jobs(job).values_list("id", flat=True)[:5]),
    })


@role_required(*ledger.IMPORTERS)
def ledger_rejected(request, pk: int):
    job = get_object_or_404(ledger.jobs_for(request.user), pk=pk)
    try:
        content, filename = ledger.rejected_workbook(job)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("registry:ledger-job", pk=job.pk)
    response = HttpResponse(content, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = content_disposition_header(True, filename)
    response["Cache-Control"] = "private, no-store"
    return response


@role_required(*datachecks.HANDLERS)
def audit_page(request):
    findings = datachecks.findings_for(request.user)
    kind, status = request.GET.get("kind", ""), request.GET.get("status", "todo")
    listed = findings.order_by("-last_run_id", "kind", "id")
    if kind in FINDING_KINDS:
        listed = listed.filter(kind=kind)
    if status == "todo":
        listed = listed.filter(status__in=[Finding.Status.OPEN, Finding.Status.CONFIRMED])
    elif status in Finding.Status.values:
        listed = listed.filter(status=status)
    page = Paginator(listed, PAGE_SIZE).get_page(request.GET.get("page"))
    full = selectors.sees_full_id_numbers(request.user)
    rows = [{"finding": f, "text": datachecks.describe(f, full_numbers=full),
             "resident_id": datachecks.masked_id(f.resident, full=full), "can_handle": datachecks.can_handle(request.user, f)}
            for f in page]
    history = datachecks.run_history()
    peak = max([run.total for run in history] or [0]) or 1
    now = datachecks.open_counts(findings)
    return render(request, "registry/audit.html", {
        "tab": "audit", "page": page, "rows": rows, "kind": kind, "status": status,
        "kinds": Finding.Kind.choices, "statuses": Finding.Status.choices,
        "history": [{"run": run, "counts": [run.counts[k] for k in FINDING_KINDS], "width": int(100 * run.total / peak)}
                    for run in history],
        "open_counts": [(label, now[value]) for value, label in Finding.Kind.choices],
        "latest": datachecks.latest_run(), "can_run": has_role(request.user, *datachecks.RUNNERS),
    })


def _back(request, fallback: str):
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect(fallback)


@role_required(*datachecks.RUNNERS)
@require_POST
def audit_run(request):
    try:
        run = datachecks.start_audit(actor=request.user)
        if run.status == "done":
            messages.success(request, f"核查完成：发现 {run.total} 个问题。Audit done: {run.total} problems found.")
        else:
            messages.success(request, "核查已开始，完成后刷新本页。The audit has started: reload this page when it is done.")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("registry:audit")


@role_required(*datachecks.HANDLERS)
@require_POST
def finding_resolve(request, pk: int):
    finding = get_object_or_404(datachecks.findings_for(request.user), pk=pk)
    try:
        datachecks.resolve_finding(actor=request.user, finding=finding, status=request.POST.get("status", ""),
                              note=request.POST.get("note", ""))
    except DomainError as exc:
        if exc.status == 403:
            raise PermissionDenied(exc.message)
        messages.error(request, exc.message)
    return _back(request, reverse("registry:audit"))
