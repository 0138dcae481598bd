"""The integration API under /api/v1/cases/ (how-to and signature check: docs/integrations.md).

For the outside system (12345 hotline, citizen mailbox), with its integration key:
    POST /intake/                 file a case; a retry with the same external_id returns it (200, not 201)
    GET  /intake/<external_id>/   the case's status, timeline and result (its own cases only)
For district administrators (session or bearer token):
    GET, POST  /integrations/                        list; create (the key is shown once)
    GET, PATCH /integrations/<id>/                   name, webhook_url, active
    POST       /integrations/<id>/rotate-key/        a new key, shown once; the old one stops at once
    POST       /integrations/<id>/webhook-secret/    the signing secret, to set up the receiver (audited)
    GET        /integrations/<id>/deliveries/        status updates sent, pending or given up

An integration key authenticates an integration, never a user: only the intake views accept it,
``request.user`` stays anonymous there, and ``request.auth`` is the Integration."""
from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import exceptions, generics, serializers, status
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import NotFound
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from kernel import idempotency
from kernel.api import CountingThrottle
from kernel.errors import DomainError, NotAllowed
from kernel.permissions import HasRole
from kernel.roles import Role
from modules.cases import selectors, services
from modules.cases.intake import integrations
from modules.cases.models import Case, Integration, WebhookDelivery
from modules.codes.selectors import district_domain
from modules.registry.models import Community, Compound, Grid, Household, Street

INTAKE_KINDS = (Integration.Kind.HOTLINE, Integration.Kind.MAILBOX)
DEFAULT_RATE = "600/min"


# --- authentication, permission, throttle ------------------------------------------------------------

class IntegrationKeyAuthentication(BaseAuthentication):
    """``Authorization: Integration <key>`` or ``X-Api-Key: <key>``."""

    keyword = "Integration"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if parts and parts[0].lower() == self.keyword.lower().encode():
            if len(parts) != 2:
                raise exceptions.AuthenticationFailed(_("Send the header as 'Authorization: Integration <key>'."))
            key = parts[1].decode(errors="replace")
        else:
            key = request.headers.get("X-Api-Key", "")
        if not key:
            return None
        integration = integrations.authenticate(key)
        if integration is None:
            raise exceptions.AuthenticationFailed(_("Unknown, revoked or inactive integration key."))
        return AnonymousUser(), integration

    def authenticate_header(self, request):
        return self.keyword  # a missing key answers 401, not 403


class IntegrationKeyScheme(OpenApiAuthenticationExtension):
    target_class = IntegrationKeyAuthentication
    name = "IntegrationKey"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "X-Api-Key",
                "description": "The integration's key; `Authorization: Integration <key>` works too."}


class IsIntegration(BasePermission):
    def has_permission(self, request, view):
        return isinstance(request.auth, Integration)


class IntegrationThrottle(CountingThrottle, SimpleRateThrottle):
    """Per integration (cache keys carry the district). Rate: DEFAULT_THROTTLE_RATES["integration"]."""

    scope = "integration"

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope) or DEFAULT_RATE

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}


class IntakeView(APIView):
    authentication_classes = [IntegrationKeyAuthentication]
    permission_classes = [IsIntegration]
    throttle_classes = [IntegrationThrottle]


# --- what an integration sees of its case (API answers and webhook payloads alike) ----------------------

class IntegrationCaseSerializer(serializers.ModelSerializer):
    category = serializers.SlugRelatedField(slug_field="code", read_only=True)
    duplicate_of = serializers.SlugRelatedField(source="parent", slug_field="ref", read_only=True,
                                                help_text="the case that answers this one, when linked as a duplicate")
    status_url = serializers.SerializerMethodField()

    class Meta:
        model = Case
        fields = ["id", "ref", "external_id", "channel", "category", "title", "status", "reject_reason",
                  "duplicate_of", "result", "rating", "submitted_at", "response_due", "resolution_due",
                  "responded_at", "resolved_at", "closed_at", "status_url"]
        read_only_fields = fields

    def get_status_url(self, case) -> str:
        domain = self.context.get("domain") or district_domain()
        path = reverse("api-cases:intake-status", kwargs={"external_id": case.external_id or case.ref})
        return f"https://{domain}{path}"


class StepSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    kind = serializers.CharField()
    status = serializers.CharField(source="to_status")


class IntegrationCaseDetailSerializer(IntegrationCaseSerializer):
    timeline = serializers.SerializerMethodField()

    class Meta(IntegrationCaseSerializer.Meta):
        fields = [*IntegrationCaseSerializer.Meta.fields, "timeline"]
        read_only_fields = fields

    @extend_schema_field(StepSerializer(many=True))
    def get_timeline(self, case) -> list[dict]:
        return StepSerializer(selectors.timeline(case), many=True).data


# --- intake ---------------------------------------------------------------------------------------------

class IntakeSerializer(serializers.Serializer):
    external_id = serializers.CharField(max_length=64, required=False, allow_blank=True, default="",
                                        help_text="your own case number (工单号); required for the hotline")
    category = serializers.CharField(help_text="our category code")
    title = serializers.CharField()
    description = serializers.CharField(required=False, allow_blank=True, default="")
    address = serializers.CharField(required=False, allow_blank=True, default="")
    latitude = serializers.FloatField(required=False, allow_null=True, default=None)
    longitude = serializers.FloatField(required=False, allow_null=True, default=None)
    household = serializers.IntegerField(required=False, allow_null=True, help_text="household id")
    compound = serializers.CharField(required=False, allow_blank=True, help_text="compound code")
    grid = serializers.CharField(required=False, allow_blank=True, help_text="grid code")
    community = serializers.CharField(required=False, allow_blank=True, help_text="community code")
    street = serializers.CharField(required=False, allow_blank=True, help_text="street code")
    contact = serializers.CharField(required=False, allow_blank=True, default="", max_length=32,
                                    help_text="the caller's phone number (stored encrypted, shown masked)")

    def __init__(self, *args, kind: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        if kind == Integration.Kind.HOTLINE:  # the hotline's number is how its retries find the case
            self.fields["external_id"] = serializers.CharField(max_length=64)

    PLACES = (("household", Household, "pk"), ("compound", Compound, "code"), ("grid", Grid, "code"),
              ("community", Community, "code"), ("street", Street, "code"))

    def submit_values(self) -> dict:
        """The service's keyword arguments: places looked up in the registry (unknown ones named)."""
        values, unknown = dict(self.validated_data), {}
        for name, model, field in self.PLACES:
            value = values.pop(name, None)
            if value in (None, ""):
                continue
            place = model.objects.filter(**{field: value}).first()
            if place is None:
                unknown[name] = [_("Not found.")]
            values[name] = place
        if unknown:
            raise DomainError(_("Unknown place: %(names)s.") % {"names": ", ".join(unknown)}, fields=unknown)
        return values


class Intake(IntakeView):
    @extend_schema(summary="File a case from the hotline or the citizen mailbox", request=IntakeSerializer,
                   parameters=[idempotency.openapi_parameter("Keys are this integration's own.")],
                   responses={201: IntegrationCaseSerializer, 200: IntegrationCaseSerializer})
    def post(self, request):
        integration = request.auth
        if integration.kind not in INTAKE_KINDS:
            raise NotAllowed(_("An Open311 client files its requests through /open311/, not here."),
                             code="use_open311")
        key = idempotency.key_from(request)  # 400 for a bad key, before the body's checks
        data = IntakeSerializer(data=request.data, kind=integration.kind)
        data.is_valid(raise_exception=True)
        case = services.submit_case(actor=None, channel=integration.kind, integration=integration,
                                    idempotency_key=key, now=timezone.now(), **data.submit_values())
        created = idempotency.created(case)  # else a retry: the case filed before
        return Response(IntegrationCaseSerializer(case).data, status=status.HTTP_201_CREATED if created else 200)


class IntakeStatus(IntakeView):
    @extend_schema(summary="A case this integration filed, by its own number (or our ref)",
                   responses={200: IntegrationCaseDetailSerializer})
    def get(self, request, external_id: str):
        cases = Case.objects.filter(integration=request.auth).select_related("category", "parent")
        case = cases.filter(external_id=external_id).first() or cases.filter(ref=external_id).first()
        if case is None:
            raise NotFound(_("No case of this integration has that number."))
        return Response(IntegrationCaseDetailSerializer(case).data)


# --- management (district administrators) ------------------------------------------------------------------

Admin = HasRole(Role.DISTRICT_ADMIN)


class IntegrationSerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Integration
        fields = ["id", "name", "kind", "key_prefix", "webhook_url", "active", "created_at", "created_by",
                  "last_used_at"]
        read_only_fields = fields


class IntegrationCreatedSerializer(IntegrationSerializer):
    key = serializers.CharField(read_only=True, help_text="shown once: store it now")

    class Meta(IntegrationSerializer.Meta):
        fields = [*IntegrationSerializer.Meta.fields, "key"]
        read_only_fields = fields


class CreateSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, allow_blank=True, default="")
    kind = serializers.CharField(required=False, allow_blank=True, default="")
    webhook_url = serializers.CharField(required=False, allow_blank=True, default="")


class UpdateSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, allow_blank=True)
    webhook_url = serializers.CharField(required=False, allow_blank=True)
    active = serializers.BooleanField(required=False)


KeySerializer = inline_serializer("IntegrationKey", {"key": serializers.CharField(help_text="shown once"),
                                                     "key_prefix": serializers.CharField()})


class IntegrationList(generics.ListAPIView):
    permission_classes = [Admin]
    serializer_class = IntegrationSerializer
    queryset = Integration.objects.select_related("created_by")
    filterset_fields = ["kind", "active"]

    @extend_schema(request=CreateSerializer, responses={201: IntegrationCreatedSerializer})
    def post(self, request):
        data = CreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        integration, key = integrations.create_integration(actor=request.user, **data.validated_data)
        integration.key = key  # shown this once
        return Response(IntegrationCreatedSerializer(integration).data, status=status.HTTP_201_CREATED)


class IntegrationDetail(generics.RetrieveAPIView):
    permission_classes = [Admin]
    serializer_class = IntegrationSerializer
    queryset = Integration.objects.select_related("created_by")

    @extend_schema(request=UpdateSerializer, responses={200: IntegrationSerializer})
    def patch(self, request, pk: int):
        integration = self.get_object()
        data = UpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        integrations.update_integration(actor=request.user, integration=integration, **data.validated_data)
        return Response(IntegrationSerializer(integration).data)


class RotateKey(APIView):
    permission_classes = [Admin]

    @extend_schema(request=None, responses={200: KeySerializer})
    def post(self, request, pk: int):
        integration = get_object_or_404(Integration, pk=pk)
        key = integrations.rotate_key(actor=request.user, integration=integration)
        return Response({"key": key, "key_prefix": integration.key_prefix})


class WebhookSecret(APIView):
    permission_classes = [Admin]

    @extend_schema(request=None, responses={200: inline_serializer("WebhookSecret", {
        "secret": serializers.CharField(help_text="signs X-Mashang-Signature; see docs/integrations.md")})})
    def post(self, request, pk: int):
        integration = get_object_or_404(Integration, pk=pk)
        return Response({"secret": integrations.reveal_webhook_secret(actor=request.user, integration=integration)})


class DeliverySerializer(serializers.ModelSerializer):
    case = serializers.SlugRelatedField(slug_field="ref", read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = ["id", "case", "event_id", "kind", "status", "attempts", "next_attempt_at", "last_status_code",
                  "last_error", "created_at", "delivered_at"]
        read_only_fields = fields


class Deliveries(generics.ListAPIView):
    permission_classes = [Admin]
    serializer_class = DeliverySerializer
    filterset_fields = ["status", "kind"]
    ordering_fields = ["created_at", "next_attempt_at"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no pk
            return WebhookDelivery.objects.none()
        integration = get_object_or_404(Integration, pk=self.kwargs["pk"])
        return integration.deliveries.select_related("case").order_by("-created_at", "-id")
