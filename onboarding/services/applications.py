"""The vendor's writes: file (create) an application, edit it while it is a draft or sent back, submit
or resubmit it, withdraw it, answer the staff's comments. Each is one transaction with its audit entry."""
from __future__ import annotations

import secrets

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kernel import audit
from kernel.errors import Conflict, DomainError, NotAllowed
from kernel.text import clean_name
from onboarding.models import Application, Comment
from onboarding.services import rules
from tenants.models import District, Vendor

# Fields a vendor gives (the form and the API speak these names).
FIELDS = ("name_zh", "name_en", "region_code", "slug", "domain", "contact_name", "contact_phone", "contact_email",
          "population", "modules", "seed_template", "source_district", "title_zh", "title_en", "primary_color",
          "accent_color", "plan_key")
DPA_FIELDS = ("dpa_accepted", "dpa_signer", "dpa_version")
CONSTRAINT_FIELDS = {"application_open_slug": "slug", "application_open_domain": "domain"}


def vendor_for(user, vendor_slug: str | None = None) -> Vendor:
    """The vendor ``user`` files for: their only one, or the one named when they work for several."""
    from tenants.access import vendor_ids

    ids = vendor_ids(user)
    qs = Vendor.objects.filter(pk__in=list(ids))
    if vendor_slug:
        qs = qs.filter(slug=vendor_slug)
    vendors = list(qs[:2])
    if not vendors:
        raise NotAllowed(_("Only a vendor's people file applications."))
    if len(vendors) > 1:
        raise rules.invalid("vendor", _("You work for several vendors: name the one this application is for."))
    return vendors[0]


def _source(vendor: Vendor, value) -> District | None:
    if value in (None, ""):
        return None
    if isinstance(value, District):
        return value
    district = District.objects.filter(slug=str(value).strip()).exclude(status=District.Status.SPARE).first()
    if district is None or district.vendor_id != vendor.pk:  # another vendor's: as if it did not exist
        raise rules.invalid("source_district", _("Copy the rules of one of your own districts."), code="not_yours")
    return district


def _clean_into(application: Application, data: dict, *, vendor: Vendor, partial: bool) -> list[str]:
    """Check every field given in ``data`` (all of them unless ``partial``) and set it on ``application``.
    Every problem is reported at once; returns the names of the fields set."""
    errors: dict[str, list[str]] = {}
    changed: list[str] = []
    codes: set[str] = set()

    def given(name: str) -> bool:
        return name in data or not partial

    def field(name: str, clean, force: bool = False):
        if not (force or given(name)):
            return
        try:
            clean(data.get(name))
            changed.append(name)
        except DomainError as exc:
            codes.add(exc.code)
            for key, messages in (exc.fields or {name: [exc.message]}).items():
                errors.setdefault(key, []).extend(messages)

    def names(value, name, required):
        setattr(application, name, clean_name(value or "", field=name, max_length=80, required=required))

    def region(value):
        application.region_code, application.region_name = rules.clean_region(value)

    def contact_name(value):
        application.contact_name = clean_name(value or "", field="contact_name", max_length=80)

    def modules(value):
        application.modules = rules.clean_modules(value)

    def titles(value, name):
        setattr(application, name, clean_name(value or "", field=name, max_length=80, required=False))

    field("name_zh", lambda v: names(v, "name_zh", True))
    field("name_en", lambda v: names(v, "name_en", False))
    field("region_code", region)
    default_domain = not application.domain or _is_default(application)
    field("slug", lambda v: setattr(application, "slug", rules.clean_slug(v)))
    if given("domain") or "slug" in changed:
        value = data["domain"] if "domain" in data else ("" if default_domain else application.domain)
        field("domain", lambda _v: setattr(application, "domain", rules.clean_domain(value, application.slug)),
              force=True)
    field("contact_name", contact_name)
    field("contact_phone", lambda v: setattr(application, "contact_phone_encrypted", rules.clean_phone(v)))
    field("contact_email", lambda v: setattr(application, "contact_email", rules.clean_email(v)))
    field("population", lambda v: setattr(application, "population", rules.clean_population(v)))
    field("modules", modules)
    if given("seed_template") or given("source_district"):
        template = data["seed_template"] if "seed_template" in data else application.seed_template
        source = data["source_district"] if "source_district" in data else application.source_district
        field("seed_template", lambda _v: _rulebook(application, vendor, template, source), force=True)
    field("title_zh", lambda v: titles(v, "title_zh"))
    field("title_en", lambda v: titles(v, "title_en"))
    for colour in ("primary_color", "accent_color"):
        if given(colour) and (data.get(colour) or not partial):
            default = Application._meta.get_field(colour).default
            field(colour, lambda v, c=colour, d=default: setattr(application, c, rules.clean_colour(c, v or d)))
    field("plan_key", lambda v: setattr(application, "plan_key", rules.clean_plan(v)))
    if errors:
        first = next(iter(errors))
        raise DomainError(f"{first}: {errors[first][0]}", fields=errors, code=codes.pop() if len(codes) == 1 else None)
    if application.slug and application.domain:
        rules.check_free(application.slug, application.domain, exclude_pk=application.pk)
    return changed


def _rulebook(application: Application, vendor: Vendor, template, source) -> None:
    application.seed_template, application.source_district = rules.clean_rulebook(
        vendor=vendor, seed_template=template, source_district=_source(vendor, source))


def _is_default(application: Application) -> bool:
    from django.conf import settings

    return application.domain == f"{application.slug}.{settings.DISTRICT_DOMAIN_SUFFIX.lower()}"


def _accept_dpa(application: Application, data: dict, actor) -> bool:
    """Record the agreement's acceptance when the vendor ticked it (the time, the user, the signer and
    the version of the text shown)."""
    if str(data.get("dpa_accepted", "")).lower() not in ("1", "true", "on", "yes"):
        return False  # not ticked (this time): an earlier acceptance stays
    signer, version = rules.clean_dpa(accepted=data.get("dpa_accepted"), signer=data.get("dpa_signer", ""),
                                      version=data.get("dpa_version", ""))
    application.dpa_signer, application.dpa_version = signer, version
    application.dpa_accepted_at, application.dpa_accepted_by = timezone.now(), actor
    return True


def _store_logo(application: Application, logo) -> None:
    extension = rules.logo_extension(logo)  # checked by its content
    application.logo.save(f"logo-{secrets.token_hex(6)}.{extension}", logo, save=False)


def _save(application: Application) -> None:
    """Save in a savepoint: two vendors racing for one slug or domain meet the partial unique
    constraint, and the loser gets the same 409 as the check before."""
    try:
        with transaction.atomic():
            application.save()
    except IntegrityError as exc:
        text = str(exc)
        for constraint, name in CONSTRAINT_FIELDS.items():
            if constraint in text:
                raise rules.conflict(name, _("This name or address was just claimed by another application."))
        raise


def _trail(application: Application) -> dict:
    return {"state": application.state, "slug": application.slug, "domain": application.domain}


def create_application(*, actor, vendor: Vendor, data: dict, logo=None, submit: bool = False) -> Application:
    """File a new application (a draft, or submitted at once with ``submit``)."""
    application = Application(vendor=vendor, created_by=actor if getattr(actor, "pk", None) else None)
    _clean_into(application, data, vendor=vendor, partial=False)
    dpa = _accept_dpa(application, data, actor)
    if logo is not None:
        rules.logo_extension(logo)
    with transaction.atomic():
        if logo is not None:
            _store_logo(application, logo)
        _save(application)
        audit.record(actor=actor, action="onboarding.application.create", target=application,
                     after={**_trail(application), "vendor": vendor.slug, "dpa": dpa})
        if submit:
            application = submit_application(actor=actor, application=application)
    return application


def _locked(application: Application) -> Application:
    return Application.objects.select_for_update().get(pk=application.pk)


def update_application(*, actor, application: Application, data: dict, logo=None,
                       clear_logo: bool = False) -> Application:
    """Change the fields given in ``data`` while the application is a draft or sent back."""
    if logo is not None:
        rules.logo_extension(logo)
    with transaction.atomic():
        application = _locked(application)
        if not application.editable:
            raise Conflict(_("Only a draft or an application sent back can be changed."), code="not_editable")
        changed = _clean_into(application, data, vendor=application.vendor, partial=True)
        if _accept_dpa(application, data, actor):
            changed.append("dpa")
        if clear_logo:
            application.logo = ""
            changed.append("logo")
        if logo is not None:
            _store_logo(application, logo)
            changed.append("logo")
        _save(application)
        audit.record(actor=actor, action="onboarding.application.update", target=application,
                     after={**_trail(application), "changed": sorted(set(changed))})
    return application


def submit_application(*, actor, application: Application) -> Application:
    """Send a draft for review, or an application sent back for another round. The agreement must be
    accepted in its current version."""
    with transaction.atomic():
        application = _locked(application)
        if application.state not in Application.EDITABLE:
            raise Conflict(_("This application is not a draft or sent back: it cannot be submitted now."),
                           code="bad_transition")
        if not application.dpa_accepted_at or application.dpa_version != rules.DPA_VERSION:
            raise rules.invalid("dpa_accepted", _("Accept the data-processing agreement to submit."),
                                code="dpa_required")
        rules.check_free(application.slug, application.domain, exclude_pk=application.pk)
        before = application.state
        application.state = (Application.State.RESUBMITTED if before == Application.State.RETURNED
                             else Application.State.SUBMITTED)
        application.submitted_at = timezone.now()
        application.save(update_fields=["state", "submitted_at", "updated_at"])
        audit.record(actor=actor, action="onboarding.application.submit", target=application,
                     before={"state": before}, after=_trail(application))
    return application


def withdraw_application(*, actor, application: Application) -> Application:
    with transaction.atomic():
        application = _locked(application)
        if application.state not in Application.WITHDRAWABLE:
            raise Conflict(_("An approved application can no longer be withdrawn."), code="bad_transition")
        before = application.state
        application.state = Application.State.WITHDRAWN
        application.save(update_fields=["state", "updated_at"])
        audit.record(actor=actor, action="onboarding.application.withdraw", target=application,
                     before={"state": before}, after=_trail(application))
    return application


def clean_comment(body: str) -> str:
    body = (body or "").strip()
    if not body:
        raise rules.invalid("body", _("Write a comment."), code="required")
    if len(body) > 2000:
        raise rules.invalid("body", _("At most 2000 characters."), code="too_long")
    return body


def add_comment(*, actor, application: Application, body: str, kind: str) -> Comment:
    """A comment in the review thread: staff (any time before approval) or the vendor's answer."""
    body = clean_comment(body)
    with transaction.atomic():
        application = _locked(application)
        if application.state in (Application.State.WITHDRAWN, Application.State.PROVISIONED):
            raise Conflict(_("This application is closed."), code="closed")
        comment = Comment.objects.create(application=application, author=actor, author_kind=kind, body=body)
        audit.record(actor=actor, action="onboarding.comment", target=application,
                     after={"comment": comment.pk, "kind": kind})
    return comment
