"""Console pages of the end of a district's life (/console/lifecycle/, platform staff): the list, and
per district its archive, exports (job progress, downloads), restores and deletion, each action with a
reason and a confirmation (console/_reason_form.html), audit-logged by the services."""
from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kernel.errors import DomainError
from tenants.access import OPS, districts_for, platform_role_required
from tenants.lifecycle import selectors, services
from tenants.lifecycle.api import district_for_ops, download, export_for_ops
from tenants.lifecycle.services import default_retention_days


def _confirmed(request) -> bool:
    from console.views import confirmed

    return confirmed(request)


@platform_role_required(OPS)
def index(request):
    ended = list(selectors.lifecycle_districts(request.user))
    others = districts_for(request.user).exclude(pk__in=[d.pk for d in ended])
    return render(request, "lifecycle/index.html", {
        "districts": ended, "others": others, "due": selectors.due_for_deletion(),
        "tombstones": selectors.tombstones()[:50]})


@platform_role_required()
def district(request, slug: str):
    state = selectors.lifecycle_of(district_for_ops(request, slug))
    return render(request, "lifecycle/district.html", {"state": state, "d": state.district,
                                                       "default_retention": default_retention_days()})


def _act(request, slug: str, action) -> object:
    if not _confirmed(request):
        messages.error(request, _("Tick the box to confirm: nothing was changed."))
        return None
    try:
        return action()
    except DomainError as exc:
        messages.error(request, exc.message)
        return None


@platform_role_required()
@require_POST
def archive(request, slug: str):
    d = district_for_ops(request, slug)
    if _act(request, slug, lambda: services.archive_district(
            actor=request.user, district=d, reason=request.POST.get("reason", ""),
            retention_days=request.POST.get("retention_days") or None)):
        messages.success(request, _("Archived."))
    return redirect("lifecycle:district", slug=slug)


@platform_role_required()
@require_POST
def export(request, slug: str):
    d = district_for_ops(request, slug)
    if _act(request, slug, lambda: services.request_export(actor=request.user, district=d,
                                                           reason=request.POST.get("reason", ""))):
        messages.success(request, _("The export is under way."))
    return redirect("lifecycle:district", slug=slug)


@platform_role_required()
@require_POST
def delete(request, slug: str):
    d = district_for_ops(request, slug)
    if _act(request, slug, lambda: services.delete_district(actor=request.user, district=d,
                                                           reason=request.POST.get("reason", ""))):
        messages.success(request, _("The district was deleted; its tombstone is kept."))
        return redirect("lifecycle:index")
    return redirect("lifecycle:district", slug=slug)


@platform_role_required()
@require_POST
def restore(request, pk: int):
    export_row = export_for_ops(request, pk)
    made = _act(request, export_row.slug, lambda: services.restore_export(
        actor=request.user, export=export_row, slug=request.POST.get("slug", ""),
        domain=request.POST.get("domain") or None, reason=request.POST.get("reason", "")))
    if made:
        messages.success(request, _("Restored as a new district: %(slug)s.") % {"slug": made.slug})
        return redirect("lifecycle:district", slug=made.slug)
    if export_row.district_id:
        return redirect("lifecycle:district", slug=export_row.slug)
    return redirect("lifecycle:index")


@platform_role_required()
def export_file(request, pk: int, kind: str):
    from django.http import Http404

    try:
        return download(request, export_for_ops(request, pk), kind)
    except DomainError as exc:
        raise Http404(exc.message) from exc
