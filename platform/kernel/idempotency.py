"""Idempotency keys: one rule for every write that takes one.

A client may send an ``Idempotency-Key`` (header, or an ``idempotency_key`` field where the endpoint
documents one): at most ``KEY_MAX`` printable ASCII characters. Then

- the same key and the same request again → the first answer again (200 instead of 201, the same
  resource; nothing new is saved);
- the same key and another request → 409 ``idempotency_key_reused``, nothing saved;
- a key over the limit, or with other characters → 400 ``invalid_idempotency_key``, nothing saved.

A key is never truncated: the database keeps ``stored_key(namespace, key)``, the SHA-256 (64 hex
characters) of the whole key in its namespace (an integration's keys, the points ledger, …), and next
to it the request's ``fingerprint``: the SHA-256 of its normalised submitted values. Rows written
before this scheme keep their raw key and no fingerprint; ``lookup_keys`` finds them too.

Services call ``clean_key`` → ``stored_key``/``lookup_keys`` → ``fingerprint``; on a repeat they call
``check_same`` and return the first object ``mark``-ed as a replay; the API answers
``201 if created(obj) else 200``."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from decimal import Decimal, InvalidOperation

from django.db import models
from django.utils.translation import gettext as _

from kernel.errors import Conflict, DomainError

KEY_MAX = 255
HEADER = "Idempotency-Key"
FIELD = "idempotency_key"
STORED_LENGTH = 64  # sha256 hex
RULE = ("At most 255 printable ASCII characters. The same key with the same request returns the first "
        "answer again (200 instead of 201, the same resource, nothing new saved); the same key with a "
        "different request answers 409 idempotency_key_reused; a longer key or other characters answer "
        "400 invalid_idempotency_key. Keys are kept whole (hashed), never cut.")


def clean_key(raw, *, field: str = FIELD) -> str | None:
    """The client's key, trimmed; None when there is none. Over ``KEY_MAX`` characters or with
    characters outside printable ASCII: 400 naming the limit."""
    if raw is None:
        return None
    key = str(raw).strip()
    if not key:
        return None
    if len(key) > KEY_MAX or not all(" " <= ch <= "~" for ch in key):
        message = _("An idempotency key is at most %(n)d printable ASCII characters.") % {"n": KEY_MAX}
        raise DomainError(message, code="invalid_idempotency_key", fields={field: [message]})
    return key


def key_from(request, data=None, *, field: str = FIELD) -> str | None:
    """The key of a request: the body's ``idempotency_key`` field, or else the Idempotency-Key header."""
    body = data.get(field) if isinstance(data, dict) else None
    return clean_key(body if body not in (None, "") else request.headers.get(HEADER), field=field)


def stored_key(namespace: str, key: str) -> str:
    """What the database keeps for a client's key: 64 hex characters, whatever the key's length."""
    return hashlib.sha256(f"{namespace}\n{key}".encode()).hexdigest()


def lookup_keys(namespace: str, key: str, *, legacy: str | None = None, legacy_max: int = 0) -> list[str]:
    """The stored key, and the raw key a row written before hashing holds (when it fit its column whole)."""
    keys = [stored_key(namespace, key)]
    if legacy and len(legacy) <= legacy_max:
        keys.append(legacy)
    return keys


def _normal(value):
    if isinstance(value, models.Model):
        return value.pk
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int | float | Decimal):
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            return str(value)
        return "0" if number == 0 else format(number.normalize(), "f")
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _normal(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_normal(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    if hasattr(value, "read"):  # an uploaded file: its name and size, not its bytes
        return {"file": getattr(value, "name", ""), "size": getattr(value, "size", None)}
    return str(value)


def fingerprint(**values) -> str:
    """A stable hash of the normalised submitted values: model instances by primary key, numbers by
    value (1.50 == 1.5), text trimmed, empty text and None alike."""
    normal = json.dumps(_normal(values), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(normal.encode()).hexdigest()


def reused() -> Conflict:
    message = _("This idempotency key was already used for a different request.")
    return Conflict(message, code="idempotency_key_reused", fields={FIELD: [message]})


def check_same(stored_fingerprint: str | None, request_fingerprint: str) -> None:
    """A repeat must be the same request (rows from before fingerprints have none: let them pass)."""
    if stored_fingerprint and stored_fingerprint != request_fingerprint:
        raise reused()


def refresh_form_key(form: dict, error: DomainError) -> None:
    """A page's form refused for its key (edited after it was sent, or tampered): give it a new one,
    so that sending it again makes a new thing instead of meeting the same 409 forever."""
    if error.code in ("idempotency_key_reused", "invalid_idempotency_key"):
        form[FIELD] = secrets.token_urlsafe(18)


def mark(obj, *, created: bool):
    """Tell the caller whether the service made ``obj`` now (201) or returned a repeat's (200)."""
    obj._idempotency_created = created
    return obj


def created(obj) -> bool:
    return getattr(obj, "_idempotency_created", True)


def openapi_parameter(extra: str = ""):
    """The Idempotency-Key header as every endpoint that takes one documents it."""
    from drf_spectacular.utils import OpenApiParameter

    description = f"{extra} {RULE}".strip()
    return OpenApiParameter(HEADER, {"type": "string", "maxLength": KEY_MAX, "pattern": "^[ -~]*$"},
                            OpenApiParameter.HEADER, required=False, description=description)
