"""The rules an application's fields obey, one place each: region code, slug, domain, contact, modules,
starting rulebook, branding, agreement and plan. Each raises a DomainError naming its field."""
from __future__ import annotations

import re
from functools import lru_cache

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.utils.translation import gettext as _

from kernel.errors import Conflict, DomainError
from tenants.models import SLUG, District, Domain

# The version of the data-processing agreement text shown on the form (templates/onboarding/_dpa.html).
# Changing the text means a new version: an application accepted under an older one must accept again.
DPA_VERSION = "2026-12"
SEED_TEMPLATES = ("default", "kangbashi", "dongsheng", "laixi")
RESERVED_SLUGS = {"www", "api", "admin", "public", "platform", "static", "media", "console", "mail"}
MAX_POPULATION = 50_000_000
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def invalid(field: str, message: str, *, code: str = "invalid") -> DomainError:
    return DomainError(f"{field}: {message}", code=code, fields={field: [message]})


def conflict(field: str, message: str) -> Conflict:
    return Conflict(f"{field}: {message}", code=f"{field}_taken", fields={field: [message]})


@lru_cache(maxsize=4096)
def region_name(code: str) -> str | None:
    """The name of a county-level GB/T 2260 code (python-stdnum's table): "内蒙古自治区 康巴什区" for
    150603, or None when the code is unknown or not county-level."""
    from stdnum import numdb

    if not re.fullmatch(r"\d{6}", code or ""):
        return None
    province, county = "", ""
    for _part, props in numdb.get("cn/loc").info(code):
        province = props.get("province", province)
        names = [n for n in (props.get("county") or "").split(",") if n]
        if names:
            # "[2016-]康巴什区": prefer a name still in use (no end year), else the latest one.
            current = [n for n in names if re.match(r"^\[\d{4}-\]", n)] or names
            county = re.sub(r"^\[[^\]]*\]", "", current[-1]).strip()
    if not county:
        return None
    return county if county == province or not province else f"{province} {county}"


def clean_region(code: str) -> tuple[str, str]:
    code = (code or "").strip()
    if not re.fullmatch(r"\d{6}", code):
        raise invalid("region_code", _("A region code has 6 digits (GB/T 2260), e.g. 150603."))
    name = region_name(code)
    if name is None:
        raise invalid("region_code", _("This is not a county-level region code (GB/T 2260)."), code="unknown_region")
    return code, name


def clean_slug(slug: str) -> str:
    slug = (slug or "").strip().lower()
    try:
        SLUG(slug)
    except ValidationError as exc:
        raise invalid("slug", str(exc.messages[0]))
    if slug in RESERVED_SLUGS or slug.startswith("spare-"):
        raise invalid("slug", _("This name is reserved by the platform: choose another."), code="reserved")
    return slug


def clean_domain(domain: str, slug: str) -> str:
    """The district's host: its own domain, or ``<slug>.<DISTRICT_DOMAIN_SUFFIX>`` when none is given."""
    suffix = settings.DISTRICT_DOMAIN_SUFFIX.lower()
    domain = (domain or "").strip().lower().rstrip(".")
    if not domain:
        return f"{slug}.{suffix}"
    labels = domain.split(".")
    if len(domain) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels) \
            or labels[-1].isdigit():
        raise invalid("domain", _("This is not a valid host name (letters, digits, '-' and dots, e.g. city.example.cn)."))
    if domain == settings.PLATFORM_DOMAIN.lower():
        raise invalid("domain", _("This is the platform's own address."), code="reserved")
    if domain.endswith(f".{suffix}") and domain != f"{slug}.{suffix}":
        raise invalid("domain", _("Under %(suffix)s a district's address is its slug: %(host)s.")
                      % {"suffix": suffix, "host": f"{slug}.{suffix}"}, code="reserved")
    return domain


def check_free(slug: str, domain: str, *, exclude_pk: int | None = None) -> None:
    """No district uses the slug or domain, and no other open application claims them. (Two vendors
    racing past this check meet the partial unique constraints instead: services turn that into the
    same 409.)"""
    from onboarding.models import Application

    open_apps = Application.objects.filter(state__in=Application.CLAIMING).exclude(pk=exclude_pk)
    if District.objects.filter(slug=slug).exists() or open_apps.filter(slug=slug).exists():
        raise conflict("slug", _("This name is already taken by a district or another application."))
    if Domain.objects.filter(domain=domain).exists() or open_apps.filter(domain=domain).exists():
        raise conflict("domain", _("This address is already taken by a district or another application."))


def clean_phone(raw: str) -> str:
    from kernel.personal import encrypt, normalize_phone

    try:
        return encrypt(normalize_phone(raw))
    except ValidationError as exc:
        raise invalid("contact_phone", str(exc.messages[0]))


def clean_email(raw: str) -> str:
    email = (raw or "").strip()
    try:
        EmailValidator()(email)
    except ValidationError:
        raise invalid("contact_email", _("Enter a valid e-mail address."))
    return email


def clean_population(value) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number < 1 or number > MAX_POPULATION:
        raise invalid("population", _("The expected population is a whole number from 1."))
    return number


def clean_modules(keys) -> list[str]:
    """Known modules with their dependencies on (tenants.services.check_modules explains what is missing,
    as the district's /manage/ page does)."""
    from tenants.services import check_modules

    if isinstance(keys, str):
        keys = [k for k in re.split(r"[,\s]+", keys) if k]
    try:
        return check_modules(keys or [])
    except DomainError as exc:
        raise DomainError(exc.message, code=exc.code, fields={"modules": exc.fields.get("modules", [exc.message])})


def clean_rulebook(*, vendor, seed_template: str, source_district):
    """The starting rulebook: a seed template, or a copy of the configuration of one of the vendor's
    own districts."""
    seed_template = (seed_template or "default").strip().lower()
    if seed_template not in SEED_TEMPLATES:
        raise invalid("seed_template", _("Choose one of: %(names)s.") % {"names": ", ".join(SEED_TEMPLATES)})
    if source_district is not None and source_district.vendor_id != vendor.pk:
        raise invalid("source_district", _("Copy the rules of one of your own districts."), code="not_yours")
    return seed_template, source_district


def clean_colour(field: str, value: str) -> str:
    from tenants.models import HEX_COLOR

    value = (value or "").strip()
    try:
        HEX_COLOR(value)
    except ValidationError as exc:
        raise invalid(field, str(exc.messages[0]))
    return value.lower()


def logo_extension(logo) -> str:
    from tenants.services import _logo_extension

    return _logo_extension(logo)  # by content, at most 2 MB: the district's own rule


def clean_plan(plan_key: str) -> str:
    """A plan key; checked against billing.Plan once that model exists (the billing app builds it)."""
    plan_key = (plan_key or "").strip()
    if not plan_key or len(plan_key) > 60:
        raise invalid("plan_key", _("Choose a plan."))
    try:
        plan = apps.get_model("billing", "Plan")
    except LookupError:
        return plan_key
    names = {f.name for f in plan._meta.get_fields()}
    lookup = {"key": plan_key} if "key" in names else {"slug": plan_key} if "slug" in names else None
    if lookup is not None:
        qs = plan.objects.filter(**lookup)
        if "active" in names:
            qs = qs.filter(active=True)
        if not qs.exists():
            raise invalid("plan_key", _("There is no such plan."), code="unknown_plan")
    return plan_key


def clean_dpa(*, accepted, signer: str, version: str) -> tuple[str, str]:
    """The agreement is accepted, signed by a named person, in the version the form showed."""
    signer = (signer or "").strip()
    if str(accepted).lower() not in ("1", "true", "on", "yes"):
        raise invalid("dpa_accepted", _("Accept the data-processing agreement to submit."), code="dpa_required")
    if not signer:
        raise invalid("dpa_signer", _("Name the person who signs the agreement."), code="dpa_required")
    if (version or "").strip() != DPA_VERSION:
        raise invalid("dpa_version", _("The agreement has changed since the form was opened: read it again."),
                      code="dpa_outdated")
    return signer[:80], DPA_VERSION
