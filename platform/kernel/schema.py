"""The OpenAPI document tells the truth (issue 10 item 14), in one place for every operation:

- the error answers an operation can give are documented with the one error shape (the ``Error``
  component, {"error": {status, code, message, fields?}}): 400 where it takes input, 401 where it
  reads credentials, 403 where a permission or CSRF check can refuse, 404 where the path names
  something, 409 on writes (idempotency and state conflicts), 413/415 on bodies, 429 where throttled;
- an operation that an anonymous caller may use lists ``{}`` among its security requirements, worked
  out from its permission classes (asked with an anonymous request), not from a list of names.
"""
from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import FieldDoesNotExist
from django.test import RequestFactory
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request

ERROR_REF = {"$ref": "#/components/schemas/Error"}

ERROR_COMPONENT = {
    "type": "object",
    "description": "Every 4xx and 5xx answer of the API has this shape.",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "status": {"type": "integer", "description": "The HTTP status code again"},
                "code": {"type": "string", "description": "A stable, machine-readable code, e.g. invalid, "
                                                          "not_found, conflict, throttled"},
                "message": {"type": "string", "description": "What went wrong, in words for a person"},
                "fields": {"type": "object", "description": "Per input field, its problems",
                           "additionalProperties": {"type": "array", "items": {"type": "string"}}},
            },
            "required": ["status", "code", "message"],
        }
    },
    "required": ["error"],
}

DESCRIPTIONS = {
    "400": "The input is invalid (body, query or path); `fields` says which and why.",
    "401": "No valid credentials: the token is missing, unknown, revoked or expired.",
    "403": "Signed in, but not allowed to do this (role, scope or CSRF).",
    "404": "Not found, or not visible to the caller.",
    "409": "Conflicts with the current state, or an Idempotency-Key reused with another body.",
    "413": "The request body is too large.",
    "415": "The request body's content type is not accepted.",
    "429": "Too many requests or sign-in attempts; the Retry-After header says when to try again.",
}


def _error(code: str) -> dict:
    return {"description": DESCRIPTIONS[code], "content": {"application/json": {"schema": ERROR_REF}}}


def _model_fields(field) -> list:
    """The model fields a model serializer's field reads through (``resolved_by.username``: the foreign
    key, then the user's username), or [] where that can't be told."""
    model = getattr(getattr(getattr(field, "parent", None), "Meta", None), "model", None)
    if model is None or getattr(field, "source", "*") == "*" or not getattr(field, "source_attrs", None):
        return []
    chain = []
    for attr in field.source_attrs:
        if model is None:
            return []
        try:
            model_field = model._meta.get_field(attr)
        except FieldDoesNotExist:
            return []
        chain.append(model_field)
        model = model_field.related_model if model_field.is_relation else None
    return chain


def _reads_through_null(field) -> bool:
    """True if the value is read through a nullable model field (``grid`` or ``resolved_by.username``
    where the foreign key may be empty): DRF answers null there, so the document must say so even when
    the field was declared without ``allow_null``."""
    return any(getattr(f, "null", False) for f in _model_fields(field))


def _may_be_blank(field) -> bool:
    chain = _model_fields(field)
    return bool(getattr(field, "allow_blank", False) or (chain and getattr(chain[-1], "blank", False)))


class AutoSchema(SpectacularAutoSchema):
    def _anonymous_allowed(self) -> bool:
        """True if every permission class of the view lets an anonymous caller through for this method."""
        try:
            raw = RequestFactory().generic(self.method, self.path)
            raw.user = AnonymousUser()
            request = Request(raw)
            request.user = AnonymousUser()
            view = self.view
            return all(p.has_permission(request, view) for p in view.get_permissions())
        except Exception:  # noqa: BLE001 - a permission that needs more than this: treat as needing auth
            return False

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if isinstance(field, serializers.URLField) and schema.get("format") == "uri" and _may_be_blank(field):
            # "" is a valid answer (no URL set) but not a valid "uri": say both
            rest = {k: v for k, v in schema.items() if k not in ("type", "format")}
            schema = {"oneOf": [{"type": "string", "format": "uri"}, {"type": "string", "maxLength": 0}], **rest}
        return schema

    def _get_serializer_field_meta(self, field, direction):
        meta = super()._get_serializer_field_meta(field, direction)
        if direction == "response" and not meta.get("nullable") and _reads_through_null(field):
            meta["nullable"] = True
        return meta

    def get_auth(self):
        auths = [a for a in super().get_auth() if a != {}]
        if auths and self._anonymous_allowed():
            auths.append({})
        return auths

    def _error_codes(self, operation: dict) -> list[str]:
        view, method = self.view, self.method
        authenticators = view.get_authenticators()
        anonymous = {} in operation.get("security", [{}])
        unsafe = method not in SAFE_METHODS
        body = "requestBody" in operation
        path_params = "{" in self.path
        query_params = any(p.get("in") == "query" for p in operation.get("parameters", []))
        codes = []
        if body or query_params or unsafe:  # a write can also break a domain rule (400 by default)
            codes.append("400")
        if authenticators:
            codes.append("401")
        if not anonymous or (unsafe and any(isinstance(a, SessionAuthentication) for a in authenticators)):
            codes.append("403")
        if path_params or any(p.get("in") == "query" and p.get("name") == "page"
                              for p in operation.get("parameters", [])):
            codes.append("404")  # a page past the end is 404 too
        if unsafe:
            codes.append("409")
        if body:
            codes += ["413", "415"]
        if view.get_throttles():
            codes.append("429")
        # What the rules above can't see, declared on the view: e.g. 404 when the body names something
        # that doesn't exist, or when the caller isn't a registered resident yet.
        codes += [str(c) for c in getattr(view, "error_statuses", ()) if str(c) not in codes]
        return codes

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is not None:
            responses = operation.setdefault("responses", {})
            for code in self._error_codes(operation):
                responses.setdefault(code, _error(code))
        return operation


def add_error_component(result, generator, request, public):
    """Postprocessing hook: the one ``Error`` component that every error answer refers to."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_COMPONENT
    return result
