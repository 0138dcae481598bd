"""Writes of the kernel: module configuration (validated, versioned, restorable) and roles."""
from __future__ import annotations

import jsonschema
from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from kernel import audit
from kernel.errors import DomainError
from kernel.models import ModuleConfig, RoleAssignment
from kernel.roles import GRID_WORKERS, Role, ScopeKind
from kernel.selectors import forget_module_config, module_config
from modules.catalog import catalog


class ConfigInvalid(DomainError):
    code = "config_invalid"


def _path(error: jsonschema.ValidationError) -> str:
    parts = [str(p) for p in error.absolute_path]
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else ""
        parts.append(missing)
    if error.validator == "additionalProperties" and "'" in error.message:
        parts.append(error.message.split("'")[1])
    return ".".join(p for p in parts if p) or "(config)"


TYPE_NAMES = {"integer": gettext_noop("a whole number"), "number": gettext_noop("a number"), "string": gettext_noop("text"),
              "boolean": gettext_noop("true or false"), "array": gettext_noop("a list"), "object": gettext_noop("an object")}


def _message(error: jsonschema.ValidationError) -> str:
    """The validator's complaint in the admin's language (jsonschema itself speaks English only)."""
    v, expected = error.validator, error.validator_value
    if v == "type":
        kind = expected if isinstance(expected, str) else expected[0]
        return _("must be %(type)s") % {"type": _(TYPE_NAMES.get(kind, kind))}
    if v in ("minimum", "exclusiveMinimum"):
        return _("must be at least %(n)s") % {"n": expected}
    if v in ("maximum", "exclusiveMaximum"):
        return _("must be at most %(n)s") % {"n": expected}
    if v == "enum":
        return _("must be one of: %(values)s") % {"values": ", ".join(map(str, expected))}
    if v == "required":
        return _("is required")
    if v == "additionalProperties":
        return _("is not a setting of this module")
    if v == "minLength":
        return _("is too short (at least %(n)s characters)") % {"n": expected}
    if v == "maxLength":
        return _("is too long (at most %(n)s characters)") % {"n": expected}
    if v == "minItems":
        return _("needs at least %(n)s items") % {"n": expected}
    if v == "uniqueItems":
        return _("has the same item twice")
    if v == "pattern":
        return _("has characters that are not allowed here")
    return error.message


def validate_config(module_key: str, data) -> None:
    spec = catalog.get(module_key)
    if spec is None:
        raise DomainError(_("There is no module %(key)s.") % {"key": module_key}, code="unknown_module", status=404)
    validator = jsonschema.Draft202012Validator(spec.config_schema)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        fields: dict[str, list[str]] = {}
        for err in errors:
            fields.setdefault(_path(err), []).append(_message(err))
        first = next(iter(fields))
        raise ConfigInvalid(_("The configuration is not valid: %(field)s: %(msg)s")
                            % {"field": first, "msg": fields[first][0]}, fields=fields)


def _next_version(module_key: str) -> int:
    return (ModuleConfig.objects.filter(module_key=module_key).aggregate(v=Max("version"))["v"] or 0) + 1


def update_module_config(*, actor, module_key: str, data: dict, note: str = "") -> ModuleConfig:
    validate_config(module_key, data)
    with transaction.atomic():
        # Serialise writers of this module's config so versions never collide.
        list(ModuleConfig.objects.select_for_update().filter(module_key=module_key).values_list("id", flat=True))
        before = module_config(module_key)
        row = ModuleConfig.objects.create(module_key=module_key, version=_next_version(module_key), data=data,
                                          created_by=actor if getattr(actor, "pk", None) else None, note=note[:200])
        audit.record(actor=actor, action="module_config.update", target=row, before=before, after=data)
        forget_module_config(module_key)
    return row


def restore_module_config(*, actor, module_key: str, version: int) -> ModuleConfig:
    old = ModuleConfig.objects.filter(module_key=module_key, version=version).first()
    if old is None:
        raise DomainError(_("Version %(v)s of %(key)s does not exist.") % {"v": version, "key": module_key},
                          code="version_not_found", status=404)
    validate_config(module_key, old.data)  # the schema may have changed since
    with transaction.atomic():
        list(ModuleConfig.objects.select_for_update().filter(module_key=module_key).values_list("id", flat=True))
        before = module_config(module_key)
        row = ModuleConfig.objects.create(module_key=module_key, version=_next_version(module_key), data=old.data,
                                          created_by=actor if getattr(actor, "pk", None) else None,
                                          note=f"restored v{version}", restored_from=version)
        audit.record(actor=actor, action="module_config.restore", target=row, before=before, after=old.data)
        forget_module_config(module_key)
    return row


SCOPES_FOR_ROLE = {
    Role.DISTRICT_ADMIN: {ScopeKind.DISTRICT},
    Role.COMMUNITY_STAFF: {ScopeKind.COMMUNITY, ScopeKind.STREET},
    Role.GRID_WORKER: {ScopeKind.GRID},
    Role.GRID_WORKER_PART_TIME: {ScopeKind.GRID},
    Role.GRID_WORKER_SECTOR: {ScopeKind.DEPARTMENT, ScopeKind.GRID},
    Role.MEDIATOR: {ScopeKind.DISTRICT, ScopeKind.STREET, ScopeKind.COMMUNITY},
    Role.COMMITTEE_MEMBER: {ScopeKind.DISTRICT, ScopeKind.STREET, ScopeKind.COMMUNITY},
    Role.MERCHANT: {ScopeKind.DISTRICT},
    Role.OFFICIAL: {ScopeKind.DISTRICT, ScopeKind.DEPARTMENT},
    Role.RESIDENT: {ScopeKind.DISTRICT},
}


def assign_role(*, actor, user, role: str, scope_kind: str = ScopeKind.DISTRICT, scope_code: str = "") -> RoleAssignment:
    """Which scope fits which role, and the assignment. It does not look the place up (the kernel sits
    below the registry, and provisioning and seeds name places the registry gets later): a role an
    administrator gives, on the users page or through the API, goes through
    ``accounts.services.grant_role``, which checks that the place exists first."""
    if role not in Role.values:
        raise DomainError(_("Unknown role %(r)s.") % {"r": role}, fields={"role": [_("Unknown role.")]})
    allowed = SCOPES_FOR_ROLE[Role(role)]
    if scope_kind not in allowed:
        raise DomainError(
            _("A %(role)s is assigned to a %(kinds)s, not a %(kind)s.")
            % {"role": Role(role).label, "kinds": " / ".join(sorted(allowed)), "kind": scope_kind},
            fields={"scope_kind": [_("Not allowed for this role.")]},
        )
    scope_code = "" if scope_kind == ScopeKind.DISTRICT else scope_code.strip()
    if scope_kind != ScopeKind.DISTRICT and not scope_code:
        raise DomainError(_("Say which %(kind)s (its code).") % {"kind": scope_kind},
                          fields={"scope_code": [_("Required for this scope.")]})
    with transaction.atomic():
        assignment, created = RoleAssignment.objects.get_or_create(
            user=user, role=role, scope_kind=scope_kind, scope_code=scope_code)
        if created:
            audit.record(actor=actor, action="role.assign", target=user,
                         after={"role": role, "scope_kind": scope_kind, "scope_code": scope_code})
            if role == Role.DISTRICT_ADMIN and not (user.is_staff and user.is_superuser):
                # District admins run /admin/ of their own district: all of its models, nothing else
                # (the user row, and so the superuser flag, exists in this district's schema only).
                user.is_staff = user.is_superuser = True
                user.save(update_fields=["is_staff", "is_superuser"])
    user.__dict__.pop("_role_cache", None)
    return assignment


def revoke_role(*, actor, assignment: RoleAssignment) -> None:
    with transaction.atomic():
        user = assignment.user
        snapshot = {"role": assignment.role, "scope_kind": assignment.scope_kind, "scope_code": assignment.scope_code}
        if assignment.role == Role.DISTRICT_ADMIN:
            others = RoleAssignment.objects.filter(role=Role.DISTRICT_ADMIN).exclude(pk=assignment.pk)
            if not others.exists():
                raise DomainError(_("A district needs at least one administrator; appoint another one first."),
                                  code="last_admin", status=409)
        assignment.delete()
        audit.record(actor=actor, action="role.revoke", target=user, before=snapshot)
        if assignment.role == Role.DISTRICT_ADMIN:
            user.is_staff = user.is_superuser = False
            user.save(update_fields=["is_staff", "is_superuser"])


__all__ = ["GRID_WORKERS", "assign_role", "restore_module_config", "revoke_role", "update_module_config",
           "validate_config"]
