"""Console pages of onboarding (public host, /console/applications/): a vendor's applications, the
application form, its detail with the review thread and the live provisioning progress; the staff's
review queue and decisions. Thin: the services decide, the pages parse and show. A vendor only finds
its own applications (404 for any other id)."""
from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from console.views import confirmed
from kernel.errors import DomainError
from modules.catalog import catalog
from onboarding import selectors, services
from onboarding.forms import TEMPLATE_LABELS, ApplicationForm, initial_for, module_hints
from onboarding.models import Application, Comment
from onboarding.services.rules import DPA_VERSION
from tenants.access import OPS, VENDOR, districts_for, has_platform_role, platform_role_required, vendor_ids
from tenants.models import District


def _english() -> bool:
    return (get_language() or "").startswith("en")


def _application(request, pk: int) -> Application:
    return get_object_or_404(selectors.applications_for(request.user), pk=pk)


def _is_own(request, application: Application) -> bool:
    return application.vendor_id in vendor_ids(request.user)


def _own_districts(request):
    ids = vendor_ids(request.user)
    return districts_for(request.user).filter(vendor_id__in=list(ids)).exclude(status=District.Status.ARCHIVED)


def _put_back(form, exc: DomainError) -> None:
    """A service's errors on the form's fields (the others at the top)."""
    for field, problems in (exc.fields or {}).items():
        target = field if field in form.fields else None
        for problem in problems:
            form.add_error(target, problem)
    if not exc.fields:
        form.add_error(None, exc.message)


@platform_role_required(OPS, VENDOR)
def application_list(request):
    applications = selectors.applications_for(request.user)
    staff = has_platform_role(request.user, OPS)
    return render(request, "onboarding/list.html", {
        "staff": staff, "queue": selectors.review_queue() if staff else None,
        "applications": applications.order_by("-created_at")[:200],
        "can_file": bool(vendor_ids(request.user)),
    })


def _form_page(request, application: Application | None):
    english = _english()
    form_kwargs = {"own_districts": _own_districts(request), "english": english,
                   "phone_on_file": application.contact_phone_masked if application else ""}
    if request.method == "POST":
        form = ApplicationForm(request.POST, request.FILES, **form_kwargs)
        if form.is_valid():
            values = form.values()
            submit = request.POST.get("action") == "submit"
            try:
                with transaction.atomic():  # saved and submitted, or neither (a refused submit saves nothing)
                    if application is None:
                        vendor = services.vendor_for(request.user, request.POST.get("vendor"))
                        saved = services.create_application(actor=request.user, vendor=vendor, data=values,
                                                            logo=form.cleaned_data.get("logo"), submit=submit)
                    else:
                        if not values.get("contact_phone"):
                            values.pop("contact_phone", None)
                        saved = services.update_application(actor=request.user, application=application,
                                                            data=values, logo=form.cleaned_data.get("logo"))
                        if submit:
                            saved = services.submit_application(actor=request.user, application=saved)
                messages.success(request, _("Submitted for review.") if submit else _("Saved as a draft."))
                return redirect("onboarding:detail", pk=saved.pk)
            except DomainError as exc:
                _put_back(form, exc)
    else:
        form = ApplicationForm(initial=initial_for(application) if application else None, **form_kwargs)
    return render(request, "onboarding/form.html", {
        "form": form, "application": application, "hints": module_hints(english), "dpa_version": DPA_VERSION})


@platform_role_required(VENDOR)
def application_new(request):
    return _form_page(request, None)


@platform_role_required(VENDOR)
def application_edit(request, pk: int):
    application = _application(request, pk)
    if not _is_own(request, application):
        return redirect("onboarding:detail", pk=pk)
    if not application.editable:
        messages.error(request, _("Only a draft or an application sent back can be changed."))
        return redirect("onboarding:detail", pk=pk)
    return _form_page(request, application)


@platform_role_required(OPS, VENDOR)
def application_detail(request, pk: int):
    application = _application(request, pk)
    return render(request, "onboarding/detail.html", {
        "application": application, "comments": application.comments.select_related("author"),
        "own": _is_own(request, application), "staff": has_platform_role(request.user, OPS),
        "progress": selectors.progress(application, english=_english()),
        "template_label": TEMPLATE_LABELS.get(application.seed_template, application.seed_template),
        "module_names": [(s.name_en if _english() else s.name_zh) for s in catalog if s.key in application.modules],
    })


def _act(request, pk: int, action, success: str, *, own: bool = False, confirm: bool = False):
    application = _application(request, pk)
    if own and not _is_own(request, application):
        messages.error(request, _("Only the vendor that filed this application can change it."))
    elif confirm and not confirmed(request):
        messages.error(request, _("Tick the box to confirm: nothing was changed."))
    else:
        try:
            action(application)
            messages.success(request, success)
        except DomainError as exc:
            messages.error(request, exc.message)
    return redirect("onboarding:detail", pk=pk)


@platform_role_required(VENDOR)
@require_POST
def application_submit(request, pk: int):
    return _act(request, pk, lambda a: services.submit_application(actor=request.user, application=a),
                _("Submitted for review."), own=True)


@platform_role_required(VENDOR)
@require_POST
def application_withdraw(request, pk: int):
    return _act(request, pk, lambda a: services.withdraw_application(actor=request.user, application=a),
                _("Application withdrawn."), own=True)


@platform_role_required(OPS, VENDOR)
@require_POST
def application_comment(request, pk: int):
    staff = has_platform_role(request.user, OPS)
    kind = Comment.Kind.STAFF if staff else Comment.Kind.VENDOR
    return _act(request, pk, lambda a: services.add_comment(actor=request.user, application=a,
                                                            body=request.POST.get("body", ""), kind=kind),
                _("Comment added."), own=not staff)


@platform_role_required(OPS)
@require_POST
def application_approve(request, pk: int):
    return _act(request, pk, lambda a: services.approve_application(actor=request.user, application=a,
                                                                    reason=request.POST.get("reason", "")),
                _("Approved: the district is being provisioned."), confirm=True)


@platform_role_required(OPS)
@require_POST
def application_return(request, pk: int):
    return _act(request, pk, lambda a: services.return_application(actor=request.user, application=a,
                                                                   comment=request.POST.get("comment", "")),
                _("Sent back to the vendor."))


@platform_role_required(OPS)
@require_POST
def application_retry(request, pk: int):
    def retry(application):
        run = selectors.latest_run(application)
        if run is None:
            raise DomainError(_("This application has no provisioning run."))
        services.retry_run(actor=request.user, run=run, reason=request.POST.get("reason", ""))

    return _act(request, pk, retry, _("Provisioning queued again."), confirm=True)


@platform_role_required(OPS, VENDOR)
def application_progress(request, pk: int):
    application = _application(request, pk)
    return render(request, "onboarding/progress.html", {
        "application": application, "progress": selectors.progress(application, english=_english())})


@platform_role_required(OPS, VENDOR)
def application_progress_json(request, pk: int):
    """The small JSON the progress page polls every 1.5 s."""
    return JsonResponse(selectors.progress(_application(request, pk), english=_english()))
