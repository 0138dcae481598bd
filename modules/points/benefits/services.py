"""Writes of the tier benefits: providers and their staff, benefits (district administrator), the use
of a benefit recorded by a provider's staff after scanning a resident's personal code, and a
resident's choice to appear on the public honour list. One transaction and one audit entry each.

``record_use`` locks the resident's civic balance row — the row every posting locks — so the tier it
checks is the tier now (a deduction committed a moment earlier counts) and two taps on two phones
cannot both pass a limit. Its idempotency key is unique in the database: a double tap records once."""
from __future__ import annotations

import datetime as dt
import hashlib

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kernel import audit, idempotency
from kernel.errors import Conflict, DomainError, NotAllowed
from kernel.permissions import require_admin
from kernel.text import text_problem
from modules.points.benefits import selectors as sel
from modules.points.ledger.selectors import tier_for, tiers
from modules.points.ledger.services import _user, local_today, lock_balances, resident_of
from modules.points.models import (
    KEY_MAX,
    BalanceKind,
    Benefit,
    BenefitUse,
    HonourOptIn,
    LimitPeriod,
    Provider,
    ProviderKind,
    ProviderStaff,
)
from modules.registry.models import Resident

PROVIDER_FIELDS = ("name", "kind", "address", "phone", "active")
BENEFIT_FIELDS = ("title", "description", "min_tier", "limit_count", "limit_period", "active", "valid_from", "valid_to")


def _require_admin(actor) -> None:
    require_admin(actor, _("Only the district administrator manages benefit providers and benefits."))


def _invalid(errors: dict[str, list[str]]) -> DomainError:
    first = next(iter(errors))
    return DomainError(f"{first}: {errors[first][0]}", fields=errors)


def _bool(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "on", "yes")
    return bool(value)


# --- providers ----------------------------------------------------------------------------------------

def _clean_provider(data: dict) -> dict:
    errors: dict[str, list[str]] = {}
    out = {k: data[k] for k in PROVIDER_FIELDS if k in data}
    out["name"], problem = text_problem(out.get("name"), max_length=80, name=True)  # kernel.text
    if problem:
        errors["name"] = [_("Required.") if not out["name"] else problem]
    if out.get("kind") not in ProviderKind.values:
        errors["kind"] = [_("school, clinic, culture, shop, tax or other.")]
    out["address"] = str(out.get("address") or "").strip()
    if len(out["address"]) > 200:
        errors["address"] = [_("At most %(n)d characters.") % {"n": 200}]
    out["phone"] = str(out.get("phone") or "").strip()
    if len(out["phone"]) > 30 or any(c not in "0123456789+-() " for c in out["phone"]):
        errors["phone"] = [_("Digits, spaces and - only (at most 30).")]
    out["active"] = _bool(out.get("active", True))
    if errors:
        raise _invalid(errors)
    return out


def _provider_snapshot(p: Provider) -> dict:
    return {k: getattr(p, k) for k in PROVIDER_FIELDS}


def create_provider(*, actor, **fields) -> Provider:
    _require_admin(actor)
    cleaned = _clean_provider({"active": True, **fields})
    with transaction.atomic():
        if Provider.objects.filter(name=cleaned["name"]).exists():
            raise Conflict(_("There is already a provider named %(name)s.") % {"name": cleaned["name"]},
                           code="provider_exists", fields={"name": [_("Taken.")]})
        provider = Provider.objects.create(**cleaned)
        audit.record(actor=actor, action="points.provider.create", target=provider, after=_provider_snapshot(provider))
    return provider


def update_provider(*, actor, provider: Provider, **changes) -> Provider:
    _require_admin(actor)
    unknown = set(changes) - set(PROVIDER_FIELDS)
    if unknown:
        raise DomainError(_("Not a field of a provider: %(names)s.") % {"names": ", ".join(sorted(unknown))},
                          fields={n: [_("Unknown field.")] for n in unknown})
    with transaction.atomic():
        provider = Provider.objects.select_for_update().get(pk=provider.pk)
        before = _provider_snapshot(provider)
        cleaned = _clean_provider({**before, **changes})
        if cleaned == before:
            return provider
        if Provider.objects.filter(name=cleaned["name"]).exclude(pk=provider.pk).exists():
            raise Conflict(_("There is already a provider named %(name)s.") % {"name": cleaned["name"]},
                           code="provider_exists", fields={"name": [_("Taken.")]})
        for k, v in cleaned.items():
            setattr(provider, k, v)
        provider.save()
        audit.record(actor=actor, action="points.provider.update", target=provider, before=before,
                     after=_provider_snapshot(provider))
    return provider


def add_provider_staff(*, actor, provider: Provider, username: str = "", user=None) -> tuple[ProviderStaff, bool]:
    """Link a district user (by username) to the provider; linking twice changes nothing."""
    _require_admin(actor)
    if user is None:
        username = (username or "").strip()
        user = get_user_model().objects.filter(username=username).first() if username else None
        if user is None:
            raise DomainError(_("There is no user %(name)s in this district. Create the account first.")
                              % {"name": username or "—"}, code="unknown_user", fields={"username": [_("Unknown user.")]})
    with transaction.atomic():
        row, created = ProviderStaff.objects.get_or_create(provider=provider, user=user,
                                                           defaults={"added_by": _user(actor)})
        if created:
            audit.record(actor=actor, action="points.provider.staff_add", target=provider,
                         after={"user": user.username})
    return row, created


def remove_provider_staff(*, actor, provider: Provider, user) -> bool:
    _require_admin(actor)
    with transaction.atomic():
        deleted, _n = ProviderStaff.objects.filter(provider=provider, user=user).delete()
        if deleted:
            audit.record(actor=actor, action="points.provider.staff_remove", target=provider,
                         before={"user": user.username})
    return bool(deleted)


# --- benefits -----------------------------------------------------------------------------------------

def _date(value, name: str, errors: dict) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        errors[name] = [_("A date, YYYY-MM-DD.")]
        return None


def _clean_benefit(data: dict) -> dict:
    errors: dict[str, list[str]] = {}
    out = {k: data[k] for k in BENEFIT_FIELDS if k in data}
    out["title"], problem = text_problem(out.get("title"), max_length=80, name=True)  # kernel.text
    if problem:
        errors["title"] = [_("Required.") if not out["title"] else problem]
    out["description"] = str(out.get("description") or "").strip()
    if len(out["description"]) > 500:
        errors["description"] = [_("At most %(n)d characters.") % {"n": 500}]
    keys = [t["key"] for t in tiers()]
    if out.get("min_tier") not in keys:
        errors["min_tier"] = [_("One of the district's tiers: %(keys)s.") % {"keys": ", ".join(keys)}]
    count = out.get("limit_count")
    if count in (None, "", 0, "0"):
        out["limit_count"] = None
    else:
        try:
            if isinstance(count, bool) or (isinstance(count, float) and not count.is_integer()):
                raise ValueError
            out["limit_count"] = int(str(count).strip()) if not isinstance(count, int) else count
            if out["limit_count"] < 1:
                raise ValueError
        except ValueError:
            errors["limit_count"] = [_("A whole number, at least 1, or empty for no limit.")]
    period = out.get("limit_period") or LimitPeriod.NONE
    if period not in LimitPeriod.values:
        errors["limit_period"] = [_("day, month, year or none.")]
    out["limit_period"] = period if out.get("limit_count") else LimitPeriod.NONE
    out["active"] = _bool(out.get("active", True))
    out["valid_from"] = _date(out.get("valid_from"), "valid_from", errors)
    out["valid_to"] = _date(out.get("valid_to"), "valid_to", errors)
    if out["valid_from"] and out["valid_to"] and out["valid_to"] < out["valid_from"]:
        errors["valid_to"] = [_("Must not be before the start.")]
    if errors:
        raise _invalid(errors)
    return out


def _benefit_snapshot(b: Benefit) -> dict:
    data = {k: getattr(b, k) for k in BENEFIT_FIELDS}
    for k in ("valid_from", "valid_to"):
        data[k] = data[k].isoformat() if data[k] else None
    return {"provider": b.provider_id, **data}


def create_benefit(*, actor, provider: Provider, **fields) -> Benefit:
    _require_admin(actor)
    cleaned = _clean_benefit({"active": True, **fields})
    with transaction.atomic():
        if Benefit.objects.filter(provider=provider, title=cleaned["title"]).exists():
            raise Conflict(_("%(provider)s already has a benefit called %(title)s.")
                           % {"provider": provider.name, "title": cleaned["title"]}, code="benefit_exists",
                           fields={"title": [_("Taken.")]})
        benefit = Benefit.objects.create(provider=provider, **cleaned)
        audit.record(actor=actor, action="points.benefit.create", target=benefit, after=_benefit_snapshot(benefit))
    return benefit


def update_benefit(*, actor, benefit: Benefit, **changes) -> Benefit:
    """Change a benefit (its uses stay as they were). A benefit is never deleted: deactivate it."""
    _require_admin(actor)
    unknown = set(changes) - set(BENEFIT_FIELDS)
    if unknown:
        raise DomainError(_("Not a field of a benefit: %(names)s.") % {"names": ", ".join(sorted(unknown))},
                          fields={n: [_("Unknown field.")] for n in unknown})
    with transaction.atomic():
        benefit = Benefit.objects.select_for_update().select_related("provider").get(pk=benefit.pk)
        before = _benefit_snapshot(benefit)
        cleaned = _clean_benefit({**{k: getattr(benefit, k) for k in BENEFIT_FIELDS}, **changes})
        if all(cleaned[k] == getattr(benefit, k) for k in BENEFIT_FIELDS):
            return benefit
        if Benefit.objects.filter(provider_id=benefit.provider_id, title=cleaned["title"]).exclude(
                pk=benefit.pk).exists():
            raise Conflict(_("%(provider)s already has a benefit called %(title)s.")
                           % {"provider": benefit.provider.name, "title": cleaned["title"]}, code="benefit_exists",
                           fields={"title": [_("Taken.")]})
        for k, v in cleaned.items():
            setattr(benefit, k, v)
        benefit.save()
        audit.record(actor=actor, action="points.benefit.update", target=benefit, before=before,
                     after=_benefit_snapshot(benefit))
    return benefit


# --- using a benefit ------------------------------------------------------------------------------------

def use_keys(*, token: str, benefit: Benefit, idempotency_key: str | None = None) -> list[str]:
    """The idempotency keys of a use: the client's key per provider (kernel.idempotency: stored whole,
    hashed, and the raw form of rows from before), or else one per code and benefit (the same scan
    recorded twice is one use). The first is the one a new use stores."""
    client = idempotency.clean_key(idempotency_key)
    if client:
        return idempotency.lookup_keys(f"points.benefit-use:{benefit.provider_id}", client,
                                       legacy=f"api:{benefit.provider_id}:{client}", legacy_max=KEY_MAX)
    digest = hashlib.sha256(f"{token.strip()}|{benefit.pk}".encode()).hexdigest()[:40]
    return [f"scan:{digest}"]


def use_key(*, token: str, benefit: Benefit, idempotency_key: str | None = None) -> str:
    return use_keys(token=token, benefit=benefit, idempotency_key=idempotency_key)[0]


def _same_use(existing: BenefitUse, *, resident_id: int, benefit: Benefit) -> BenefitUse:
    """The same key again: the same request is the same benefit for the same resident (the code
    itself may be a fresher one of theirs)."""
    if (existing.resident_id, existing.benefit_id) != (resident_id, benefit.pk):
        raise idempotency.reused()
    idempotency.check_same(existing.idempotency_fingerprint, _use_fingerprint(resident_id, benefit))
    return existing


def _use_fingerprint(resident_id: int, benefit: Benefit) -> str:
    return idempotency.fingerprint(resident=resident_id, benefit=benefit.pk)


def record_use(*, actor, token: str, benefit: Benefit, idempotency_key: str | None = None,
               now=None) -> tuple[BenefitUse, bool]:
    """Provider staff record that the resident whose personal code they scanned used a benefit of
    their provider. Checks, in order: the actor is staff of the benefit's provider; the code (valid,
    this district, not expired); the benefit in force; the resident's tier now ≥ the benefit's tier;
    the limit per period. Returns (use, created); the same key again returns the first use."""
    user = _user(actor)
    if not sel.is_provider_staff(user, benefit.provider_id):
        raise NotAllowed(_("Only the staff of %(provider)s record uses of its benefits.")
                         % {"provider": benefit.provider.name}, code="not_provider_staff")
    keys = use_keys(token=token, benefit=benefit, idempotency_key=idempotency_key)
    existing = BenefitUse.objects.filter(idempotency_key__in=keys).first()
    if existing is not None:  # a repeat: the code may have expired since, but it must be genuine
        return _same_use(existing, resident_id=sel.read_token(token, max_age=None), benefit=benefit), False
    resident_id = sel.read_token(token)
    if not Resident.objects.filter(pk=resident_id).exists():
        raise sel.code_invalid()
    now = now or timezone.now()
    with transaction.atomic():
        lock_balances([(resident_id, BalanceKind.CIVIC)])  # the tier and the limit are read under this lock
        existing = BenefitUse.objects.filter(idempotency_key__in=keys).first()
        if existing is not None:
            return _same_use(existing, resident_id=resident_id, benefit=benefit), False
        benefit = Benefit.objects.select_related("provider").get(pk=benefit.pk)
        if not (benefit.active and benefit.provider.active and benefit.valid_on(local_today(now))):
            raise Conflict(_("%(title)s is not offered at the moment.") % {"title": benefit.title},
                           code="benefit_unavailable")
        needed = sel.tier_rank(benefit.min_tier)
        tier = tier_for(sel.civic_points(resident_id))
        have = sel.tier_rank(tier["key"]) if tier else None
        if needed is None:
            raise Conflict(_("%(title)s is not offered at the moment.") % {"title": benefit.title},
                           code="benefit_unavailable")
        if have is None or have < needed:
            required = sel.tier_name(tiers()[needed])
            raise Conflict(_("%(title)s is for residents of the tier %(tier)s and above; this resident's tier is "
                             "lower.") % {"title": benefit.title, "tier": required}, code="tier_too_low")
        if benefit.limit_count:
            used = sel.used_in_period(resident_id, [benefit], now).get(benefit.pk, 0)
            if used >= benefit.limit_count:
                raise Conflict(_("%(title)s: the limit (%(limit)s) is reached for this resident.")
                               % {"title": benefit.title, "limit": sel.limit_text(benefit)}, code="limit_reached")
        try:
            with transaction.atomic():
                use = BenefitUse.objects.create(benefit=benefit, resident_id=resident_id, tier=tier["key"],
                                                recorded_by=user, at=now, idempotency_key=keys[0],
                                                idempotency_fingerprint=_use_fingerprint(resident_id, benefit))
        except IntegrityError:  # the same key committed by a twin that did not lock (cannot happen; be safe)
            existing = BenefitUse.objects.get(idempotency_key=keys[0])
            return _same_use(existing, resident_id=resident_id, benefit=benefit), False
        audit.record(actor=user, action="points.benefit.use", target=use,
                     after={"benefit": benefit.pk, "provider": benefit.provider_id, "resident": resident_id,
                            "tier": tier["key"]})
    return use, True


# --- the honour list --------------------------------------------------------------------------------

def set_honour_opt_in(*, actor, public: bool, show_name: str = HonourOptIn.ShowName.MASKED,
                      resident: Resident | None = None, _check_actor: bool = True) -> HonourOptIn:
    """A resident chooses, for themselves, whether and how they appear on the public honour list."""
    own = resident_of(actor)
    if resident is None:
        resident = own
    if resident is None:
        raise DomainError(_("Your account is not linked to a registered resident yet: bind your household first."),
                          code="no_resident", status=404)
    if _check_actor and (own is None or own.pk != resident.pk):
        raise NotAllowed(_("Only residents themselves decide whether they appear on the honour list."))
    if show_name not in HonourOptIn.ShowName.values:
        raise DomainError(_("masked or anonymous."), fields={"show_name": [_("Unknown choice.")]})
    public = _bool(public)
    with transaction.atomic():
        row, created = HonourOptIn.objects.select_for_update().get_or_create(
            resident=resident, defaults={"public": public, "show_name": show_name})
        before = None if created else {"public": row.public, "show_name": row.show_name}
        if not created and (row.public, row.show_name) == (public, show_name):
            return row
        row.public, row.show_name, row.changed_at = public, show_name, timezone.now()
        row.save(update_fields=["public", "show_name", "changed_at"])
        audit.record(actor=actor, action="points.honour.opt_in", target=row, before=before,
                     after={"public": public, "show_name": show_name})
    return row


__all__ = ["add_provider_staff", "create_benefit", "create_provider", "record_use", "remove_provider_staff",
           "set_honour_opt_in", "update_benefit", "update_provider"]
