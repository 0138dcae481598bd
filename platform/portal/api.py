"""District API: sign-in, the current user, the district's public profile, and the admin's
settings (modules, module configuration with versions, branding, users and roles)."""
from __future__ import annotations

import hashlib

from django.contrib.auth import get_user_model, login, logout
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.utils import html
from rest_framework.views import APIView

from accounts.services import (
    AuthError,
    add_user,
    grant_role,
    issue_token,
    password_sign_in,
    request_code,
    revoke_tokens,
    verify_code,
)
from kernel.api import CountingThrottle, error_body
from kernel.errors import DomainError
from kernel.models import AuditEntry, ModuleConfig, RoleAssignment
from kernel.permissions import HasRole
from kernel.roles import Role, ScopeKind
from kernel.selectors import config_versions, module_config, roles_of
from kernel.services import restore_module_config, revoke_role, update_module_config
from modules.catalog import catalog
from tenants.services import disable_module, enable_module, set_modules, update_branding

AdminOnly = HasRole(Role.DISTRICT_ADMIN)


def _district():
    return connection.tenant


def _raise_auth(exc: AuthError):
    raise DomainError(str(exc), code=exc.code, status=exc.status)


# --- sign-in ----------------------------------------------------------------------------------------

class PhoneSerializer(serializers.Serializer):
    phone = serializers.CharField(max_length=32, help_text="Mainland mobile number, e.g. 13800138000")


class VerifySerializer(PhoneSerializer):
    code = serializers.RegexField(r"^\d{6}$", help_text="The 6-digit code from the SMS",
                                  error_messages={"invalid": "The code is 6 digits."})
    token = serializers.BooleanField(default=False, help_text="Also return an API token (apps)")


def _digest(request, name: str) -> str:
    """A throttle key part from what the caller typed: hashed whole, so any bytes make a valid cache key."""
    value = request.data.get(name, "") if hasattr(request, "data") and hasattr(request.data, "get") else ""
    return hashlib.sha256(str(value).encode("utf-8", "surrogatepass")).hexdigest()


class OtpThrottle(CountingThrottle, SimpleRateThrottle):
    scope = "otp"

    def get_cache_key(self, request, view):
        phone = _digest(request, "phone")
        return self.cache_format % {"scope": self.scope, "ident": f"{self.get_ident(request)}:{phone}"}


class OtpRequestView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [OtpThrottle]
    throttle_scope = "otp"

    @extend_schema(request=PhoneSerializer, responses={202: inline_serializer(
        "CodeSent", {"phone": serializers.CharField(), "expires_in": serializers.IntegerField()})},
        summary="Send a one-time sign-in code by SMS")
    def post(self, request):
        data = PhoneSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            sent = request_code(phone=data.validated_data["phone"])
        except AuthError as exc:
            _raise_auth(exc)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"phone": exc.messages})
        return Response({"phone": sent.phone_masked, "expires_in": sent.expires_in}, status=status.HTTP_202_ACCEPTED)


def me_payload(user) -> dict:
    return {
        "id": user.pk,
        "username": user.username,
        "display_name": user.display_name or user.username,
        "phone": user.phone_masked,
        "roles": [{"role": a.role, "scope_kind": a.scope_kind, "scope_code": a.scope_code} for a in roles_of(user)],
    }


MeSerializer = inline_serializer("Me", {
    "id": serializers.IntegerField(), "username": serializers.CharField(),
    "display_name": serializers.CharField(), "phone": serializers.CharField(),
    "roles": serializers.ListField(child=serializers.DictField()),
})


SignedInSerializer = inline_serializer("SignedIn", {
    "id": serializers.IntegerField(), "username": serializers.CharField(),
    "display_name": serializers.CharField(), "phone": serializers.CharField(),
    "roles": serializers.ListField(child=serializers.DictField()),
    "token": serializers.CharField(required=False, help_text="Only when asked for with token=true"),
    "expires_at": serializers.DateTimeField(required=False, help_text="When the token expires"),
})


class OtpVerifyView(APIView):
    permission_classes = [AllowAny]
    throttle_classes = [OtpThrottle]
    throttle_scope = "otp"

    @extend_schema(request=VerifySerializer, responses={200: SignedInSerializer}, summary="Sign in with the code")
    def post(self, request):
        data = VerifySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            user = verify_code(phone=data.validated_data["phone"], code=data.validated_data["code"])
        except AuthError as exc:
            _raise_auth(exc)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"phone": exc.messages})
        login(request._request, user, backend="django.contrib.auth.backends.ModelBackend")
        body = me_payload(user)
        if data.validated_data["token"]:
            issued = issue_token(user=user)
            body["token"], body["expires_at"] = issued.key, issued.expires_at
        return Response(body)


# --- password sign-in for staff apps: a bearer token ---------------------------------------------------

class PasswordSignInSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})


TokenOut = inline_serializer("IssuedToken", {
    "token": serializers.CharField(help_text="Send as 'Authorization: Bearer <token>'"),
    "expires_at": serializers.DateTimeField(help_text="After this the token gets 401; sign in again")})


class TokenThrottle(CountingThrottle, SimpleRateThrottle):
    """Its own budget per caller address and username, apart from the lockout counted per account."""

    scope = "token"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope,
                                    "ident": f"{self.get_ident(request)}:{_digest(request, 'username')}"}


class TokenSignInView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [TokenThrottle]

    @extend_schema(request=PasswordSignInSerializer, responses={200: TokenOut},
                   summary="Staff: sign in with username and password, get an API token",
                   description="For staff of this district (residents sign in with a one-time code). "
                               "Five wrong passwords lock the account for 15 minutes (429 says until when).")
    def post(self, request):
        data = PasswordSignInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            _user, issued = password_sign_in(**data.validated_data)
        except AuthError as exc:
            headers = {}
            retry_at = getattr(exc, "retry_at", None)
            if retry_at is not None:
                from django.utils import timezone

                headers["Retry-After"] = str(max(1, int((retry_at - timezone.now()).total_seconds()) + 1))
            return Response(error_body(exc.status, exc.code, str(exc)), status=exc.status, headers=headers)
        return Response({"token": issued.key, "expires_at": issued.expires_at})


class TokenRevokeView(APIView):
    @extend_schema(request=None, responses={204: None}, summary="Revoke the caller's API token")
    def post(self, request):
        revoke_tokens(actor=request.user, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutView(APIView):
    @extend_schema(request=None, responses={204: None}, summary="Sign out (and revoke the API token)")
    def post(self, request):
        Token.objects.filter(user=request.user).delete()
        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    @extend_schema(responses={200: MeSerializer}, summary="The signed-in user and their roles")
    def get(self, request):
        return Response(me_payload(request.user))


# --- the district's public profile ------------------------------------------------------------------

def module_payload(spec, district) -> dict:
    return {"key": spec.key, "name_zh": spec.name_zh, "name_en": spec.name_en, "depends": list(spec.depends),
            "always_on": spec.always_on, "enabled": district.has_module(spec.key)}


class DistrictView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses={200: inline_serializer("District", {
        "slug": serializers.CharField(), "name_zh": serializers.CharField(), "name_en": serializers.CharField(),
        "branding": serializers.DictField(), "modules": serializers.ListField(child=serializers.CharField())})},
        summary="This district's name, branding and enabled modules")
    def get(self, request):
        d = _district()
        return Response({
            "slug": d.slug, "name_zh": d.name_zh, "name_en": d.name_en,
            "branding": {"title_zh": d.title_zh, "title_en": d.title_en, "primary_color": d.primary_color,
                         "accent_color": d.accent_color, "logo": d.logo.url if d.logo else None},
            "modules": [s.key for s in catalog.effective(d)],
        })


# --- settings: modules ----------------------------------------------------------------------------

class ModuleOut(serializers.Serializer):
    key = serializers.CharField()
    name_zh = serializers.CharField()
    name_en = serializers.CharField()
    depends = serializers.ListField(child=serializers.CharField())
    always_on = serializers.BooleanField()
    enabled = serializers.BooleanField()


class ModulesSerializer(serializers.Serializer):
    modules = serializers.ListField(child=serializers.CharField(max_length=40), allow_empty=True)


class ModuleListView(APIView):
    permission_classes = [AdminOnly]

    @extend_schema(responses={200: ModuleOut(many=True)}, summary="Every module and whether it is on here")
    def get(self, request):
        return Response([module_payload(s, _district()) for s in catalog])

    @extend_schema(request=ModulesSerializer, responses={200: ModuleOut(many=True)},
                   summary="Set the enabled module set (dependencies are checked)")
    def put(self, request):
        data = ModulesSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        district = set_modules(actor=request.user, district=_district(), modules=data.validated_data["modules"])
        connection.tenant = district
        return Response([module_payload(s, district) for s in catalog])


class ModuleToggleView(APIView):
    permission_classes = [AdminOnly]
    enable = True

    @extend_schema(request=None, responses={200: ModuleOut}, summary="Turn one module on or off")
    def post(self, request, key: str):
        fn = enable_module if self.enable else disable_module
        district = fn(actor=request.user, district=_district(), key=key)
        connection.tenant = district
        return Response(module_payload(catalog[key], district))


class ConfigSerializer(serializers.Serializer):
    data = serializers.JSONField(help_text="The whole configuration document, validated against the module's schema")
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


def _version_payload(row: ModuleConfig) -> dict:
    return {"version": row.version, "data": row.data, "note": row.note, "restored_from": row.restored_from,
            "created_at": row.created_at, "created_by": str(row.created_by) if row.created_by else None}


ConfigOut = inline_serializer("ModuleConfig", {
    "module": serializers.CharField(), "version": serializers.IntegerField(allow_null=True),
    "data": serializers.JSONField(), "schema": serializers.JSONField()})
class VersionOut(serializers.Serializer):
    version = serializers.IntegerField()
    data = serializers.JSONField()
    note = serializers.CharField()
    restored_from = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    created_by = serializers.CharField(allow_null=True)


def _spec_or_404(key: str):
    spec = catalog.get(key)
    if spec is None:
        raise DomainError(f"There is no module '{key}'.", code="not_found", status=404)
    return spec


class ModuleConfigView(APIView):
    permission_classes = [AdminOnly]

    def _payload(self, key):
        latest = ModuleConfig.objects.filter(module_key=key).order_by("-version").first()
        return {"module": key, "version": latest.version if latest else None, "data": module_config(key),
                "schema": _spec_or_404(key).config_schema}

    @extend_schema(responses={200: ConfigOut}, summary="The configuration in force, with its schema")
    def get(self, request, key: str):
        _spec_or_404(key)
        return Response(self._payload(key))

    @extend_schema(request=ConfigSerializer, responses={200: ConfigOut},
                   summary="Replace the configuration (validated; saved as a new version)")
    def put(self, request, key: str):
        _spec_or_404(key)
        data = ConfigSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        update_module_config(actor=request.user, module_key=key, data=data.validated_data["data"],
                             note=data.validated_data["note"])
        return Response(self._payload(key))


class ModuleConfigVersionsView(generics.ListAPIView):
    permission_classes = [AdminOnly]
    filter_backends: list = []

    @extend_schema(responses={200: VersionOut(many=True)}, summary="Every saved version, newest first")
    def get(self, request, key: str):
        _spec_or_404(key)
        page = self.paginate_queryset(config_versions(key))
        return self.get_paginated_response([_version_payload(r) for r in page])


class ModuleConfigRestoreView(APIView):
    permission_classes = [AdminOnly]

    @extend_schema(request=None, responses={200: VersionOut}, summary="Restore an earlier version (as a new one)")
    def post(self, request, key: str, version: int):
        _spec_or_404(key)
        row = restore_module_config(actor=request.user, module_key=key, version=version)
        return Response(_version_payload(row))


# --- settings: branding -----------------------------------------------------------------------------

class GivenTextField(serializers.CharField):
    """Optional, but when sent it is a value: a form's empty ``title_zh=`` is refused as blank (DRF reads
    an optional form field's "" as "not given", so it was taken with 200 and quietly ignored)."""

    def get_value(self, dictionary):
        if html.is_html_input(dictionary) and self.field_name in dictionary and dictionary[self.field_name] == "":
            return ""
        return super().get_value(dictionary)


class BrandingSerializer(serializers.Serializer):
    title_zh = GivenTextField(max_length=80, required=False)
    title_en = serializers.CharField(max_length=80, required=False, allow_blank=True)
    primary_color = serializers.RegexField(r"^#[0-9a-fA-F]{6}$", required=False,
                                           error_messages={"invalid": "Use a colour like #1f6feb."})
    accent_color = serializers.RegexField(r"^#[0-9a-fA-F]{6}$", required=False,
                                          error_messages={"invalid": "Use a colour like #1f6feb."})


class BrandingView(APIView):
    permission_classes = [AdminOnly]

    def _payload(self, d):
        return {"title_zh": d.title_zh, "title_en": d.title_en, "primary_color": d.primary_color,
                "accent_color": d.accent_color, "logo": d.logo.url if d.logo else None}

    @extend_schema(responses={200: BrandingSerializer}, summary="The portal's branding")
    def get(self, request):
        return Response(self._payload(_district()))

    @extend_schema(request=BrandingSerializer, responses={200: BrandingSerializer}, summary="Change branding")
    def patch(self, request):
        data = BrandingSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        district = update_branding(actor=request.user, district=_district(), **data.validated_data)
        return Response(self._payload(district))


# --- settings: users and roles ------------------------------------------------------------------------

class RoleSerializer(serializers.ModelSerializer):
    class Meta:
        model = RoleAssignment
        fields = ["id", "role", "scope_kind", "scope_code"]
        read_only_fields = ["id"]


class UserSerializer(serializers.ModelSerializer):
    roles = RoleSerializer(source="role_assignments", many=True, read_only=True)
    phone = serializers.CharField(source="phone_masked", read_only=True)

    class Meta:
        model = get_user_model()
        fields = ["id", "username", "display_name", "phone", "is_active", "roles"]


class NewUserSerializer(serializers.Serializer):
    username = serializers.RegexField(r"^[\w.@+-]{3,150}$")
    display_name = serializers.CharField(max_length=80, required=False, default="")
    password = serializers.CharField(min_length=8, required=False, write_only=True)
    phone = serializers.CharField(max_length=32, required=False)
    role = serializers.ChoiceField(choices=Role.choices)
    scope_kind = serializers.ChoiceField(choices=ScopeKind.choices, default=ScopeKind.DISTRICT)
    scope_code = serializers.CharField(max_length=64, required=False, default="", allow_blank=True)


class UserListView(generics.ListAPIView):
    permission_classes = [AdminOnly]
    serializer_class = UserSerializer
    filterset_fields = ["is_active", "role_assignments__role"]
    ordering_fields = ["username", "id"]

    def get_queryset(self):
        return get_user_model().objects.prefetch_related("role_assignments").order_by("id")

    @extend_schema(request=NewUserSerializer, responses={201: UserSerializer}, summary="Add a staff user with a role")
    def post(self, request):
        data = NewUserSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        try:
            # user and role together or not at all; the place must exist (the users page's one rule)
            user = add_user(actor=request.user, username=v["username"], password=v.get("password"),
                            display_name=v["display_name"], phone=v.get("phone"), role=v["role"],
                            scope_kind=v["scope_kind"], scope_code=v["scope_code"])
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else
                                              {"phone": exc.messages})
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)


class UserRolesView(APIView):
    permission_classes = [AdminOnly]

    @extend_schema(request=RoleSerializer, responses={201: RoleSerializer}, summary="Give a user a role")
    def post(self, request, user_id: int):
        user = get_object_or_404(get_user_model(), pk=user_id)
        data = RoleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        row = grant_role(actor=request.user, user=user, role=v["role"], scope_kind=v.get("scope_kind", ScopeKind.DISTRICT),
                         scope_code=v.get("scope_code", ""))
        return Response(RoleSerializer(row).data, status=status.HTTP_201_CREATED)


class UserTokensRevokeView(APIView):
    permission_classes = [AdminOnly]

    @extend_schema(request=None, responses={204: None}, summary="Revoke a user's API tokens (signs their apps out)")
    def post(self, request, user_id: int):
        user = get_object_or_404(get_user_model(), pk=user_id)
        revoke_tokens(actor=request.user, user=user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserRoleDetailView(APIView):
    permission_classes = [AdminOnly]

    @extend_schema(request=None, responses={204: None}, summary="Take a role away")
    def delete(self, request, user_id: int, role_id: int):
        row = get_object_or_404(RoleAssignment, pk=role_id, user_id=user_id)
        revoke_role(actor=request.user, assignment=row)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AuditSerializer(serializers.ModelSerializer):
    action_name = serializers.SerializerMethodField(help_text="the action's readable name in the request's language")

    class Meta:
        model = AuditEntry
        fields = ["id", "at", "actor_label", "action", "action_name", "target_type", "target_id", "before", "after",
                  "request_id"]

    def get_action_name(self, obj) -> str:
        from django.utils import translation

        from kernel.audit_names import action_label

        return action_label(obj.action, english=(translation.get_language() or "").startswith("en"))


class AuditListView(generics.ListAPIView):
    permission_classes = [AdminOnly]
    serializer_class = AuditSerializer
    filterset_fields = ["action", "target_type", "target_id"]
    queryset = AuditEntry.objects.all()


