"""Writes on districts: create (from the pool of pre-migrated spare schemas), modules, branding, status.

Creating a district is one call, ``create_district``, used by the demo seed, the management
command and (later) onboarding. It claims a spare schema that ``migrate_schemas`` keeps current
(spares are District rows with status "spare"), renames it, and seeds it, in one transaction:
milliseconds instead of the seconds a full migration replay takes. With an empty pool (or
``use_pool=False``) it first makes a spare by migrations and then claims that one the same way. The
rename (ALTER SCHEMA … RENAME) is transactional in PostgreSQL, so a failing seed leaves nothing
behind: the spare is back in the pool under its own name, and the slug and domain are free to retry.
"""
from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tenants.utils import schema_rename, tenant_context

from kernel import audit, events
from kernel.errors import Conflict, DomainError
from kernel.text import clean_model_texts, clean_name
from modules.catalog import catalog
from tenants.models import District, Domain, PlatformMembership, Vendor

log = logging.getLogger(__name__)

SPARE_PREFIX = "spare_"


class ModuleDependencyError(DomainError):
    code = "module_dependency"


@dataclass
class AdminSpec:
    username: str
    password: str | None = None
    phone: str | None = None
    display_name: str = ""


@dataclass
class Branding:
    title_zh: str = ""
    title_en: str = ""
    primary_color: str = "#c62828"
    accent_color: str = "#f9a825"


@dataclass
class Created:
    district: District
    admin: object
    seconds: float
    from_pool: bool
    timings: dict = field(default_factory=dict)


def schema_name_for(slug: str) -> str:
    return "d_" + slug.replace("-", "_")


def check_modules(keys) -> list[str]:
    """Validate a wanted module set: every key known, every dependency present. Returns it sorted
    in catalog order, with always-on modules included."""
    keys = set(keys)
    unknown = sorted(k for k in keys if catalog.get(k) is None)
    if unknown:
        raise DomainError(_("Unknown modules: %(keys)s.") % {"keys": ", ".join(unknown)},
                          code="unknown_module", fields={"modules": [", ".join(unknown)]})
    keys |= catalog.always_on()
    problems = []
    for key in sorted(keys):
        spec = catalog[key]
        missing = [d for d in spec.depends if d not in keys]
        if missing:
            names = "、".join(f"{catalog[d].name_zh} ({d})" for d in missing)
            problems.append(_("%(module)s needs %(deps)s: turn that on first, or leave %(module)s off.")
                            % {"module": f"{spec.name_zh} ({key})", "deps": names})
    if problems:
        raise ModuleDependencyError(" ".join(problems), fields={"modules": problems})
    return [s.key for s in catalog if s.key in keys]


def _validate_new(slug: str, domain: str) -> None:
    try:
        District._meta.get_field("slug").run_validators(slug)
    except ValidationError as exc:
        raise DomainError(f"slug: {exc.messages[0]}", fields={"slug": exc.messages})
    if District.objects.filter(slug=slug).exists():
        message = _("A district with this slug already exists.")
        raise Conflict(f"slug: {message}", fields={"slug": [message]})
    if Domain.objects.filter(domain=domain).exists():
        message = _("This domain is already in use.")
        raise Conflict(f"domain: {message}", fields={"domain": [message]})


def _claim_spare(pk: int | None = None) -> District | None:
    """The oldest spare nobody else is claiming (or spare ``pk``), locked until the transaction ends."""
    spares = District.objects.select_for_update(skip_locked=True).filter(status=District.Status.SPARE)
    return (spares.filter(pk=pk) if pk else spares).order_by("created_at").first()


_all_migrations: set[tuple[str, str]] | None = None


def missing_migrations(schema_name: str) -> set[tuple[str, str]]:
    """Migrations this code has that the schema has not applied (a spare made before a deploy whose
    migrate_schemas has not reached it yet)."""
    global _all_migrations
    if _all_migrations is None:
        from django.db.migrations.loader import MigrationLoader

        _all_migrations = set(MigrationLoader(None, ignore_no_migrations=True).graph.nodes)
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT app, name FROM "{schema_name}".django_migrations')
        applied = set(cursor.fetchall())
    return _all_migrations - applied


def create_district(*, actor=None, slug: str, name_zh: str, name_en: str = "", modules=(),
                    branding: Branding | None = None, admin: AdminSpec | None = None,
                    domain: str | None = None, use_pool: bool = True, seed_template: str = "default",
                    vendor=None, live: bool = True) -> Created:
    """Create a district: schema, domain, branding, module set, seeded configuration, first admin.
    ``live=False`` (onboarding): it serves its staff at once, and residents see "being set up" until
    the go-live checklist is done and someone presses "go live" (``District.live_at``)."""
    started = time.perf_counter()
    timings: dict[str, float] = {}
    slug = (slug or "").strip().lower()
    name_zh = clean_name(name_zh, field="name_zh", max_length=80)  # kernel.text
    name_en = clean_name(name_en, field="name_en", max_length=80, required=False)
    domain = (domain or f"{slug}.{settings.DISTRICT_DOMAIN_SUFFIX}").strip().lower()
    connection.set_schema_to_public()
    _validate_new(slug, domain)
    wanted = check_modules(modules)
    branding = branding or Branding(title_zh=name_zh, title_en=name_en)
    fields = dict(slug=slug, name_zh=name_zh, name_en=name_en, modules=wanted,
                  title_zh=branding.title_zh or name_zh, title_en=branding.title_en or name_en,
                  primary_color=branding.primary_color, accent_color=branding.accent_color,
                  vendor=vendor, live_at=timezone.now() if live else None)
    from_pool, made = use_pool, None
    while True:
        if not from_pool:  # no pool (or it ran dry): make a spare now by replaying every migration
            t = time.perf_counter()
            made = add_spare()
            timings["migrate"] = time.perf_counter() - t
        # One transaction from claim to active: a failing seed rolls back the rename, the domain and
        # every seeded row, so the spare is back in the pool under its own name and the slug is free.
        with transaction.atomic():
            district = _claim_spare(pk=made.pk if made else None)
            if district is None:  # the pool is empty, or another creation took the spare just made
                from_pool = False
                continue
            if from_pool:
                timings["claim"] = time.perf_counter() - started
            if missing_migrations(district.schema_name):
                # A stale spare (claimed mid-deploy): bring it up to date before anyone uses it.
                from django.core.management import call_command

                t = time.perf_counter()
                log.warning("claimed spare %s was behind on migrations; migrating it now", district.schema_name)
                call_command("migrate_schemas", schema_name=district.schema_name, interactive=False, verbosity=0)
                connection.set_schema_to_public()
                timings["catch_up"] = time.perf_counter() - t
            schema_rename(district, schema_name_for(slug), save=False)
            for name, value in fields.items():
                setattr(district, name, value)
            district.status, district.status_changed_at = District.Status.ACTIVE, timezone.now()
            district.save()  # nobody sees it before the commit, so it is active at once
            Domain.objects.create(domain=domain, tenant=district, is_primary=True)
            t = time.perf_counter()
            with tenant_context(district):
                admin_user = _seed_district(district, actor=actor, admin=admin, template=seed_template)
            timings["seed"] = time.perf_counter() - t
            audit.record(actor=actor, action="district.create", target=district,
                         after={"slug": slug, "domain": domain, "modules": wanted, "from_pool": from_pool})
        break
    if from_pool:
        transaction.on_commit(_kick_refill)
    return Created(district, admin_user, time.perf_counter() - started, from_pool, timings)


def _seed_district(district: District, *, actor, admin: AdminSpec | None, template: str):
    """Runs inside the new district's schema: first admin and each module's seed."""
    from accounts.services import create_user
    from kernel.roles import Role
    from kernel.services import assign_role

    admin_user = None
    if admin is not None:
        admin_user = create_user(actor=None, username=admin.username, password=admin.password,
                                 display_name=admin.display_name or admin.username, phone=admin.phone,
                                 is_staff=True)
        assign_role(actor=None, user=admin_user, role=Role.DISTRICT_ADMIN)
    for spec in catalog.effective(district):
        seed_module(spec.key, template=template, actor=admin_user)
    audit.record(actor=actor, action="district.seed", target_type="tenants.district", target_id=district.slug,
                 after={"modules": district.modules, "template": template})
    return admin_user


def seed_module(key: str, *, template: str = "default", actor=None) -> None:
    spec = catalog[key]
    if spec.seed:
        from django.utils.module_loading import import_string

        import_string(spec.seed)(template=template, actor=actor)


def set_modules(*, actor, district: District, modules) -> District:
    """Turn modules on and off for a district. Dependencies are checked and explained."""
    wanted = check_modules(modules)
    with transaction.atomic():
        district = District.objects.select_for_update().get(pk=district.pk)
        before = list(district.modules)
        added = [k for k in wanted if k not in before and not catalog[k].always_on]
        district.modules = wanted
        district.save(update_fields=["modules"])
        with tenant_context(district):
            for key in added:
                seed_module(key, actor=actor)
            audit.record(actor=actor, action="district.modules", target=district, before={"modules": before},
                         after={"modules": wanted})
    return district


def enable_module(*, actor, district: District, key: str) -> District:
    if catalog.get(key) is None:
        raise DomainError(_("Unknown module %(key)s.") % {"key": key}, code="unknown_module", status=404)
    return set_modules(actor=actor, district=district, modules=set(district.modules) | {key})


def disable_module(*, actor, district: District, key: str, with_dependents: bool = False) -> District:
    """Turn a module off. The enabled modules that need it are refused (named in the error), or, with
    ``with_dependents``, turned off with it in the same change. Data stays: tables are never dropped."""
    spec = catalog.get(key)
    if spec is None:
        raise DomainError(_("Unknown module %(key)s.") % {"key": key}, code="unknown_module", status=404)
    if spec.always_on:
        raise ModuleDependencyError(_("%(name)s is part of every district and cannot be turned off.")
                                    % {"name": spec.name_zh})
    needed_by = [s for s in catalog if s.key in catalog.dependents(key) and s.key in district.modules]
    if needed_by and with_dependents:
        return set_modules(actor=actor, district=district,
                           modules=set(district.modules) - {key} - {s.key for s in needed_by})
    if needed_by:
        names = "、".join(f"{s.name_zh} ({s.key})" for s in needed_by)
        raise ModuleDependencyError(
            _("%(name)s is needed by %(others)s: turn those off first.") % {"name": f"{spec.name_zh} ({key})",
                                                                          "others": names},
            fields={"modules": [names]})
    return set_modules(actor=actor, district=district, modules=set(district.modules) - {key})


BRANDING_FIELDS = ("title_zh", "title_en", "primary_color", "accent_color")
LOGO_FORMATS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}
LOGO_MAX_BYTES = 2 * 1024 * 1024


def _logo_extension(logo) -> str:
    """Check an uploaded logo by its content (not its name); return the file extension to store."""
    from PIL import Image, UnidentifiedImageError

    if logo.size > LOGO_MAX_BYTES:
        raise DomainError(_("The logo is too large: at most 2 MB."), fields={"logo": [_("At most 2 MB.")]})
    try:
        with Image.open(logo) as image:
            image.verify()
            fmt = image.format
    except (UnidentifiedImageError, OSError, SyntaxError):
        fmt = None
    logo.seek(0)
    if fmt not in LOGO_FORMATS:
        raise DomainError(_("The logo must be a PNG, JPEG or WebP image."),
                          fields={"logo": [_("PNG, JPEG or WebP only.")]})
    return LOGO_FORMATS[fmt]


def update_branding(*, actor, district: District, logo=None, clear_logo: bool = False, **changes) -> District:
    unknown = set(changes) - set(BRANDING_FIELDS)
    if unknown:
        raise DomainError(_("Unknown branding fields: %(f)s.") % {"f": ", ".join(sorted(unknown))})
    extension = _logo_extension(logo) if logo is not None else None
    with transaction.atomic():
        district = District.objects.select_for_update().get(pk=district.pk)
        before = {f: getattr(district, f) for f in BRANDING_FIELDS} | {"logo": district.logo.name or ""}
        for name, value in changes.items():
            setattr(district, name, value)
        clean_model_texts(district, names=tuple(f for f in ("title_zh", "title_en") if f in changes))  # kernel.text
        if clear_logo:
            district.logo = ""
        try:
            district.full_clean(exclude=["schema_name", "slug", "logo"])
        except ValidationError as exc:
            fields = exc.message_dict
            first = next(iter(fields))
            raise DomainError(f"{first}: {fields[first][0]}", fields=fields)
        if logo is not None:
            with tenant_context(district):  # stored under the district's media prefix
                district.logo.save(f"logo-{secrets.token_hex(4)}.{extension}", logo, save=False)
        district.save()
        after = {f: getattr(district, f) for f in BRANDING_FIELDS} | {"logo": district.logo.name or ""}
        with tenant_context(district):
            audit.record(actor=actor, action="district.branding", target=district, before=before, after=after)
    return district


ALLOWED_TRANSITIONS = {
    "provisioning": {"active", "archived"},
    "active": {"past_due", "suspended", "archived"},
    "past_due": {"active", "suspended", "archived"},
    "suspended": {"active", "archived"},
    "archived": set(),
}


# The statuses a person sets by hand (console and platform API). Archiving is the lifecycle's
# (tenants.lifecycle.services.archive_district), which also records the retention period.
MANUAL_STATUSES = ("active", "past_due", "suspended")


def require_reason(reason: str | None) -> str:
    """Every action that changes a district is given a reason (kept in the audit log)."""
    reason = (reason or "").strip()
    if not reason:
        message = _("Give a reason: it is kept in the audit log.")
        raise DomainError(message, code="reason_required", fields={"reason": [message]})
    if len(reason) > 500:
        message = _("The reason is too long: at most 500 characters.")
        raise DomainError(message, code="reason_too_long", fields={"reason": [message]})
    return reason


def set_status(*, actor, district: District, status: str, reason: str) -> District:
    """Move a district along its life (active, past due, suspended, archived), with a reason that is
    audit-logged: a person's words, or the billing job's ("invoice in_… unpaid past the grace period")."""
    reason = require_reason(reason)
    with transaction.atomic():
        district = District.objects.select_for_update().get(pk=district.pk)
        if status not in ALLOWED_TRANSITIONS.get(district.status, set()):
            raise Conflict(_("A district cannot go from %(a)s to %(b)s.") % {"a": district.status, "b": status},
                           code="bad_transition")
        before = district.status
        district.status = status
        district.status_changed_at = timezone.now()
        district.save(update_fields=["status", "status_changed_at"])
        audit.record(actor=actor, action="district.status", target=district, before={"status": before},
                     after={"status": status, "reason": reason})
    return district


# --- the pool of spare schemas ----------------------------------------------------------------

def pool_size() -> int:
    return District.objects.filter(status=District.Status.SPARE).count()


def add_spare() -> District:
    """Create one spare district schema by running every migration (the slow path, done ahead)."""
    connection.set_schema_to_public()
    token = secrets.token_hex(5)
    spare = District(schema_name=f"{SPARE_PREFIX}{token}", slug=f"spare-{token}", name_zh="(spare)",
                     status=District.Status.SPARE)
    spare.save(verbosity=0)
    return spare


def fill_pool(size: int | None = None) -> int:
    size = settings.DISTRICT_POOL_SIZE if size is None else size
    made = 0
    while pool_size() < size:
        add_spare()
        made += 1
    return made


def _kick_refill() -> None:
    """By task name (kernel.events.kick): with the broker down the periodic refill catches up."""
    events.kick("tenants.tasks.refill_pool", "public")


# --- vendors and public-site roles (tenants.access reads them) ---------------------------------

def create_vendor(*, actor, slug: str, name_zh: str, name_en: str = "") -> Vendor:

    slug = (slug or "").strip().lower()
    vendor = Vendor(slug=slug, name_zh=clean_name(name_zh, field="name_zh", max_length=120),
                    name_en=clean_name(name_en, field="name_en", max_length=120, required=False))
    try:
        vendor.full_clean()
    except ValidationError as exc:
        fields = exc.message_dict
        first = next(iter(fields))
        raise DomainError(f"{first}: {fields[first][0]}", fields=fields)
    with transaction.atomic():
        vendor.save()
        audit.record(actor=actor, action="vendor.create", target=vendor, after={"slug": slug, "name_zh": vendor.name_zh})
    return vendor


def grant_platform_role(*, actor, user, role: str, vendor=None) -> PlatformMembership:
    """Give a public-site user a role: ops, finance, or vendor (of ``vendor``). Idempotent."""

    if role not in PlatformMembership.Role.values:
        raise DomainError(_("Unknown platform role %(role)s.") % {"role": role}, fields={"role": [role]})
    if (role == PlatformMembership.Role.VENDOR) != (vendor is not None):
        message = _("A vendor role names its vendor; the other roles name none.")
        raise DomainError(message, fields={"vendor": [message]})
    with transaction.atomic():
        membership, made = PlatformMembership.objects.get_or_create(user=user, role=role, vendor=vendor)
        if made:
            audit.record(actor=actor, action="platform.role.grant", target=membership,
                         after={"user": user.username, "role": role, "vendor": vendor.slug if vendor else ""})
    return membership
