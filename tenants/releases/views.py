"""The console page of releases (/console/releases/, ops only): which district is at which migration,
the failed ones first, each retryable with a reason and a confirmation (audited, a recorded job)."""
from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kernel.errors import DomainError
from tenants.access import OPS, platform_role_required
from tenants.models import District
from tenants.releases import selectors, services


@platform_role_required(OPS)
def report(request):
    only = request.GET.get("only", "")
    only = only if only in ("behind", "failed") else ""
    everything = selectors.report()
    rows = [r for r in everything if (only != "behind" or r.behind) and (only != "failed" or r.failed)]
    return render(request, "releases/report.html", {
        "rows": rows, "summary": selectors.summary(everything), "only": only,
        "latest": selectors.latest_run(), "runs": selectors.runs()[:10], "leaves": selectors.code_leaves()})


@platform_role_required(OPS)
@require_POST
def retry(request, slug: str):
    """Migrate one district's schema again (``migrate_schemas --schema=<name>`` as a job)."""
    from console.views import confirmed

    district = get_object_or_404(District.objects.exclude(schema_name="public"), slug=slug)
    if not confirmed(request):
        messages.error(request, _("Tick the box to confirm: nothing was changed."))
        return redirect("releases:report")
    try:
        run = services.retry_district(actor=request.user, district=district, reason=request.POST.get("reason", ""))
        messages.success(request, _("Retry %(n)s of %(schema)s queued.") % {"n": run.pk, "schema": district.schema_name})
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("releases:report")
