"""Writes of the registry: places, residents and their households, officials, merchants."""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kernel import audit
from kernel.errors import Conflict, DomainError
from kernel.personal import blind_index, encrypt, normalize_id_number, normalize_phone
from kernel.text import clean_model_texts, clean_name
from modules.registry.models import (
    Building,
    Community,
    Compound,
    Department,
    Grid,
    Household,
    Membership,
    Merchant,
    Official,
    Resident,
    Street,
)


def _field_error(field: str, exc: ValidationError) -> DomainError:
    return DomainError(f"{field}: {' '.join(exc.messages)}", fields={field: exc.messages}, code="invalid")


def _clean(instance) -> None:
    try:
        instance.full_clean()
    except ValidationError as exc:
        fields = exc.message_dict
        first = next(iter(fields))
        raise DomainError(f"{first}: {fields[first][0]}", fields=fields)


# The human text of each kind of record (kernel.text): names must hold a letter; the rest is plain text.
TEXT_FIELDS = {
    Department: (("name",), ("code",)),
    Street: (("name",), ("code",)),
    Community: (("name",), ("code", "police_contact")),
    Grid: (("name",), ("code", "duty_phone")),
    Compound: (("name",), ("code", "property_company", "property_contact")),
    Building: ((), ("number",)),
    Household: ((), ("unit", "room")),
    Official: (("name",), ("post",)),
    Merchant: (("name",), ("license_number", "address", "licensed_place", "licensed_hours")),
}


def _create(actor, model, action: str, **fields):
    with transaction.atomic():
        obj = model(**fields)
        names, others = TEXT_FIELDS.get(model, ((), ()))
        clean_model_texts(obj, names, others)
        fields.update({f: getattr(obj, f) for f in names + others})
        _clean(obj)
        obj.save()
        audit.record(actor=actor, action=action, target=obj,
                     after={k: str(v) for k, v in fields.items()})
    return obj


def create_department(*, actor, code: str, name: str, is_sector: bool = False) -> Department:
    return _create(actor, Department, "registry.department.create", code=code, name=name, is_sector=is_sector)


def create_street(*, actor, code: str, name: str) -> Street:
    return _create(actor, Street, "registry.street.create", code=code, name=name)


def create_community(*, actor, code: str, name: str, street: Street, police_contact: str = "") -> Community:
    return _create(actor, Community, "registry.community.create", code=code, name=name, street=street,
                   police_contact=police_contact)


def create_grid(*, actor, code: str, name: str, community: Community, worker=None, duty_phone: str = "") -> Grid:
    return _create(actor, Grid, "registry.grid.create", code=code, name=name, community=community, worker=worker,
                   duty_phone=duty_phone)


def create_compound(*, actor, code: str, name: str, grid: Grid, property_company: str = "",
                    property_contact: str = "") -> Compound:
    return _create(actor, Compound, "registry.compound.create", code=code, name=name, grid=grid,
                   community=grid.community, property_company=property_company, property_contact=property_contact)


def create_building(*, actor, compound: Compound, number: str, grid: Grid | None = None) -> Building:
    return _create(actor, Building, "registry.building.create", compound=compound, number=number,
                   grid=grid or compound.grid)


def create_household(*, actor, building: Building, room: str, unit: str = "",
                     registered_size: int | None = None) -> Household:
    return _create(actor, Household, "registry.household.create", building=building, unit=unit, room=room,
                   grid=building.grid, registered_size=registered_size)


def personal_fields(*, id_number: str | None = None, phone: str | None = None) -> dict:
    """Validated, encrypted and indexed personal numbers, ready to set on a Resident."""
    out: dict = {}
    if id_number:
        try:
            value = normalize_id_number(id_number)
        except ValidationError as exc:
            raise _field_error("id_number", exc)
        from stdnum.cn import ric

        out.update(id_number_encrypted=encrypt(value), id_number_index=blind_index(value, "id"),
                   birth_date=ric.get_birth_date(value), gender="m" if int(value[16]) % 2 else "f")
    if phone:
        try:
            value = normalize_phone(phone)
        except ValidationError as exc:
            raise _field_error("phone", exc)
        out.update(phone_encrypted=encrypt(value), phone_index=blind_index(value, "phone"))
    return out


def register_resident(*, actor, name: str, id_number: str | None = None, phone: str | None = None,
                      household: Household | None = None, relation: str = Membership.Relation.MEMBER) -> Resident:
    if not (name or "").strip():
        raise DomainError(_("name: enter the resident's name."), fields={"name": [_("Required.")]})
    name = clean_name(name, max_length=Resident._meta.get_field("name").max_length)
    fields = personal_fields(id_number=id_number, phone=phone)
    with transaction.atomic():
        if fields.get("id_number_index") and Resident.objects.filter(
                id_number_index=fields["id_number_index"]).exists():
            raise Conflict(_("id_number: a resident with this ID number is already registered."),
                           fields={"id_number": [_("Already registered.")]})
        resident = Resident.objects.create(name=name, **fields)
        if household is not None:
            _bind(resident, household, relation)
        audit.record(actor=actor, action="registry.resident.register", target=resident,
                     after={"name": name, "household": household.pk if household else None, "relation": relation})
    return resident


def _bind(resident: Resident, household: Household, relation: str) -> Membership:
    if relation not in Membership.Relation.values:
        raise DomainError(_("relation: one of head, member, tenant."), fields={"relation": [_("Unknown.")]})
    if Membership.objects.filter(resident=resident, household=household, ended_at__isnull=True).exists():
        raise Conflict(_("This resident is already bound to this household."), code="already_bound")
    if relation == Membership.Relation.HEAD and Membership.objects.filter(
            household=household, relation=Membership.Relation.HEAD, ended_at__isnull=True).exists():
        raise Conflict(_("This household already has a head; change that first."), code="head_exists")
    return Membership.objects.create(resident=resident, household=household, relation=relation)


def bind_resident(*, actor, resident: Resident, household: Household,
                  relation: str = Membership.Relation.MEMBER) -> Membership:
    with transaction.atomic():
        membership = _bind(resident, household, relation)
        audit.record(actor=actor, action="registry.resident.bind", target=resident,
                     after={"household": household.pk, "relation": relation})
    return membership


def end_membership(*, actor, membership: Membership) -> Membership:
    with transaction.atomic():
        membership = Membership.objects.select_for_update().get(pk=membership.pk)
        if membership.ended_at:
            return membership
        membership.ended_at = timezone.now()
        membership.save(update_fields=["ended_at"])
        audit.record(actor=actor, action="registry.resident.unbind", target=membership.resident,
                     before={"household": membership.household_id, "relation": membership.relation})
    return membership


def correct_resident(*, actor, resident: Resident, name: str | None = None, phone: str | None = None,
                     id_number: str | None = None) -> Resident:
    """A resident (or staff) corrects personal data. Changes are audited without the clear values."""
    changes: dict = {}
    if name is not None and name.strip():
        name = clean_name(name, max_length=Resident._meta.get_field("name").max_length)
        if name != resident.name:
            changes["name"] = name
    changes.update(personal_fields(id_number=id_number, phone=phone))
    with transaction.atomic():
        if changes.get("id_number_index") and Resident.objects.filter(
                id_number_index=changes["id_number_index"]).exclude(pk=resident.pk).exists():
            raise Conflict(_("id_number: another resident has this ID number."),
                           fields={"id_number": [_("Already registered.")]})
        for key, value in changes.items():
            setattr(resident, key, value)
        resident.save()
        audit.record(actor=actor, action="registry.resident.correct", target=resident,
                     after={"fields": sorted(k for k in changes if not k.endswith(("_encrypted", "_index")))})
    return resident


def create_official(*, actor, name: str, department: Department, post: str, user=None,
                    phone: str | None = None, active: bool = True) -> Official:
    extra = {"phone_encrypted": personal_fields(phone=phone)["phone_encrypted"]} if phone else {}
    return _create(actor, Official, "registry.official.create", name=name, department=department, post=post,
                   user=user, active=active, **extra)


def create_merchant(*, actor, name: str, kind: str = Merchant.Kind.SHOP, owner=None, license_number: str = "",
                    address: str = "", grid: Grid | None = None, licensed_place: str = "", licensed_hours: str = "",
                    phone: str | None = None, active: bool = True) -> Merchant:
    if kind == Merchant.Kind.STALL and not (licensed_place or "").strip():
        raise DomainError(_("licensed_place: a mobile stall needs the place where it may trade."),
                          fields={"licensed_place": [_("Required for stalls.")]})
    extra = {"phone_encrypted": personal_fields(phone=phone)["phone_encrypted"]} if phone else {}
    return _create(actor, Merchant, "registry.merchant.create", name=name, kind=kind, owner=owner,
                   license_number=license_number, address=address, grid=grid, licensed_place=licensed_place,
                   licensed_hours=licensed_hours, active=active, **extra)


def link_account(*, actor, resident: Resident, user) -> Resident:
    """Tie a registered resident to the sign-in account that proved to be them."""
    with transaction.atomic():
        other = Resident.objects.filter(user=user).exclude(pk=resident.pk).first()
        if other is not None:
            raise Conflict(_("This account already belongs to another resident."), code="account_taken")
        if resident.user_id and resident.user_id != user.pk:
            raise Conflict(_("This resident is already linked to another account."), code="resident_taken")
        if resident.user_id != user.pk:
            resident.user = user
            resident.save(update_fields=["user", "updated_at"])
            audit.record(actor=actor, action="registry.resident.link_account", target=resident,
                         after={"user": user.pk})
    return resident
