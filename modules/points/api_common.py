"""What the points API's views share (under /api/v1/points/, one file per sub-package: ledger, committee,
batches, benefits): the staff permission, documented enum fields, query parsing, the resident and
idempotency key of a request, evidence files, and which residents a user's roles cover."""
from __future__ import annotations

from django.db.models import Exists, OuterRef
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from drf_spectacular.utils import (
    extend_schema_field,
)
from rest_framework import serializers

from kernel import idempotency
from kernel.errors import DomainError
from kernel.filters import query_int
from kernel.permissions import HasRole, in_scope
from kernel.roles import Role, ScopeKind
from kernel.selectors import roles_of
from modules.points.ledger import services as ledger
from modules.points.models import (
    BatchTarget,
)
from modules.registry.models import Resident
from modules.registry.selectors import RESIDENT_SCOPE

Staff = HasRole(*ledger.POSTER_ROLES)
DECIDERS = (Role.COMMITTEE_MEMBER, Role.DISTRICT_ADMIN)
IDEMPOTENCY_HEADER = idempotency.openapi_parameter("The same as the idempotency_key field.")
IDEMPOTENCY_HEADER_ONLY = idempotency.openapi_parameter()

_enum_fields: dict[tuple, type] = {}


def enum_field(choices, **kwargs) -> serializers.CharField:
    """A text field documented with its values (the services check them)."""
    values = tuple(c[0] if isinstance(c, tuple | list) else c for c in choices)
    cls = _enum_fields.get(values)
    if cls is None:
        cls = extend_schema_field({"type": "string", "enum": list(values)})(
            type("PointsEnumText", (serializers.CharField,), {}))
        _enum_fields[values] = cls
    return cls(**kwargs)


def values_field(choices, help_text: str = "", **kwargs) -> serializers.CharField:
    """For ``kind``, ``status`` and ``decision``: the values in the description rather than as an enum,
    since other modules use the same names for other choice sets (enum components would clash)."""
    values = " | ".join(str(c[0] if isinstance(c, tuple | list) else c) for c in choices)
    return serializers.CharField(help_text=f"{values}. {help_text}".strip(), **kwargs)


def _int(request, name: str, default: int, low: int, high: int) -> int:
    return query_int(request, name, default, low, high)  # out of range is 400, not quietly clamped


def _resident(pk) -> Resident:
    resident = Resident.objects.filter(pk=pk).first() if pk is not None else None
    if resident is None:
        raise DomainError(_("There is no registered resident %(id)s.") % {"id": pk}, code="unknown_resident",
                          fields={"resident": [_("Not found.")]})
    return resident


def _key(request, data: dict) -> str | None:
    return idempotency.key_from(request, data)


def _evidence_file(upload):
    """The pages' check: a photo (re-encoded, without location or camera data) or a PDF, ≤ 10 MB."""
    from modules.points.forms import evidence_file

    return evidence_file(upload)


def _evidence_url(kind: str, obj) -> str | None:
    """Where the evidence file is read: the staff page that checks who may see it (never the media
    address of the file)."""
    if not obj.evidence_file:
        return None
    try:
        return reverse("points:staff-evidence", kwargs={"kind": kind, "pk": obj.pk})
    except NoReverseMatch:
        return None


def _fake(view) -> bool:
    return getattr(view, "swagger_fake_view", False)  # the schema generator has no user


# --- scope: which residents a user's roles cover --------------------------------------------------------

def _inside(user, roles):
    """None when the user holds one of ``roles`` district-wide; else a subquery of the ids of the
    residents inside their scopes for those roles (the services check each write the same way)."""
    if any(a.role in roles and a.scope_kind == ScopeKind.DISTRICT for a in roles_of(user)):
        return None
    return in_scope(user, Resident.objects.all(), roles=roles, fields=RESIDENT_SCOPE).values("pk")


def _all_targets_inside(inside, batch_ref: str = "pk"):
    """A condition on batches (or on proposals through ``batch``): nobody listed lives outside."""
    return ~Exists(BatchTarget.objects.filter(batch_id=OuterRef(batch_ref)).exclude(resident_id__in=inside))


def _deciders_see_votes(user) -> bool:
    return any(a.role in (*DECIDERS, *ledger.POSTER_ROLES) for a in roles_of(user))
