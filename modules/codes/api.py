"""Codes API (/api/v1/codes/): codes by place (staff of the area), issue and re-issue, scan resolution
for apps, print runs, binding requests, the household head's invitations and members."""
from __future__ import annotations

from django.db.models import Q
from django.http import FileResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from kernel.errors import DomainError
from kernel.filters import query_bool, query_choice
from kernel.permissions import HasRole, has_role
from kernel.roles import STAFF_ROLES
from modules.codes import selectors, services
from modules.codes.models import BindingRequest, Code, HouseholdInvite, PrintRun
from modules.registry.models import Household, Membership, Merchant, Official

Staff = HasRole(*STAFF_ROLES)


class CodeSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    label = serializers.CharField(read_only=True)
    replaced_by = serializers.SerializerMethodField()

    class Meta:
        model = Code
        fields = ["id", "token", "url", "kind", "status", "label", "household", "merchant", "official", "issued_at",
                  "revoked_at", "reason", "replaced_by"]

    def get_url(self, code) -> str:
        return selectors.url_of(code, self.context.setdefault("site", selectors.site_origin()))

    def get_replaced_by(self, code) -> int | None:
        return code.replaced_by_id


class IssueSerializer(serializers.Serializer):
    household = serializers.PrimaryKeyRelatedField(queryset=Household.objects.all(), required=False)
    merchant = serializers.PrimaryKeyRelatedField(queryset=Merchant.objects.all(), required=False)
    official = serializers.PrimaryKeyRelatedField(queryset=Official.objects.all(), required=False)


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200, help_text="e.g. door plate lost")


class CodeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Codes of the places in your area. Filter by place: ``household``, ``merchant``, ``official``,
    ``grid``, ``community``, ``street``; and by ``kind`` and ``status``."""

    serializer_class = CodeSerializer
    permission_classes = [Staff]
    filterset_fields = {"kind": ["exact"], "status": ["exact"], "household": ["exact"], "merchant": ["exact"],
                        "official": ["exact"]}

    def get_queryset(self):
        qs = selectors.codes_for(self.request.user)
        params = self.request.query_params
        for key, lookups in (("grid", ("household__grid__code", "merchant__grid__code")),
                             ("community", ("household__grid__community__code", "merchant__grid__community__code")),
                             ("street", ("household__grid__community__street__code",
                                         "merchant__grid__community__street__code"))):
            if params.get(key):
                qs = qs.filter(Q(**{lookups[0]: params[key]}) | Q(**{lookups[1]: params[key]}))
        return qs.order_by("id")

    @extend_schema(parameters=[OpenApiParameter(p, str, description=f"{p} code") for p in ("grid", "community",
                                                                                            "street")])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=IssueSerializer, responses={201: CodeSerializer(many=True)},
                   summary="Issue the codes of a household, merchant or official (idempotent)")
    @action(detail=False, methods=["post"])
    def issue(self, request):
        data = IssueSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        codes = services.issue_codes(actor=request.user, **data.validated_data)
        return Response(CodeSerializer(codes, many=True).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ReasonSerializer, responses={201: CodeSerializer},
                   summary="Revoke this code and issue a new one (lost or damaged plate)")
    @action(detail=True, methods=["post"])
    def reissue(self, request, pk=None):
        code = self.get_object()
        data = ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        new = services.revoke_and_reissue(actor=request.user, code=code, reason=data.validated_data["reason"])
        return Response(CodeSerializer(new).data, status=status.HTTP_201_CREATED)


# --- scanning ------------------------------------------------------------------------------------------

ScanSerializer = inline_serializer("CodeScan", {
    "token": serializers.CharField(), "kind": serializers.CharField(), "status": serializers.CharField(),
    "viewer": serializers.CharField(help_text="owner, staff, resident or passerby"),
    "target": serializers.DictField(), "contacts": serializers.ListField(child=serializers.DictField()),
    "actions": serializers.ListField(child=serializers.DictField()),
})


class ScanView(APIView):
    """What an app shows after scanning a code: its kind, what it is, and the actions for this viewer.
    Unknown token: 404 ``code_not_found``; revoked: 410 ``code_revoked``."""

    permission_classes = [AllowAny]

    @extend_schema(responses={200: ScanSerializer}, summary="Resolve a scanned code")
    def get(self, request, token: str):
        scan = selectors.resolve_scan(token, request.user)
        english = (request.LANGUAGE_CODE or "").startswith("en")
        if scan.revoked:
            raise DomainError(
                "This code was replaced by a new one and is no longer valid. Scan the new code." if english else
                "此码已作废并已补发新码，请扫描新的二维码。", code="code_revoked", status=410)
        return Response({
            "token": scan.code.token, "kind": scan.code.kind, "status": scan.code.status, "viewer": scan.viewer,
            "audiences": sorted(scan.audiences), "target": scan.summary,
            "contacts": [{"role": c.role, "label": c.label(english), "name": c.name, "phone": c.phone,
                          "phones": [link["tel"] for link in c.phones]}
                         for c in scan.contacts],
            "actions": [{"key": a.key, "label": a.label(english), "url": request.build_absolute_uri(url),
                         "module": a.module, "who": a.who} for a, url in scan.actions],
        })


# --- print runs ----------------------------------------------------------------------------------------

class PrintRunSerializer(serializers.ModelSerializer):
    percent = serializers.IntegerField(read_only=True)
    pdf_url = serializers.SerializerMethodField()
    zip_url = serializers.SerializerMethodField()

    class Meta:
        model = PrintRun
        fields = ["id", "scope_kind", "scope_code", "scope_name", "kinds", "codes_per_sheet", "status", "total",
                  "done", "percent", "error", "created_at", "started_at", "finished_at", "pdf_url", "zip_url"]
        read_only_fields = ["scope_name", "status", "total", "done", "error", "created_at", "started_at",
                            "finished_at"]
        extra_kwargs = {"codes_per_sheet": {"required": False}}

    def _file_url(self, run, part) -> str | None:
        if run.status != PrintRun.Status.DONE:
            return None
        request = self.context.get("request")
        path = f"/api/v1/codes/print-runs/{run.pk}/{part}/"
        return request.build_absolute_uri(path) if request else path

    def get_pdf_url(self, run) -> str | None:
        return self._file_url(run, "pdf")

    def get_zip_url(self, run) -> str | None:
        return self._file_url(run, "zip")


class PrintRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                      viewsets.GenericViewSet):
    """Print runs of your area. Create one (202): a Celery worker makes the files; poll for progress,
    then download ``pdf/`` and ``zip/``."""

    serializer_class = PrintRunSerializer
    permission_classes = [Staff]
    filterset_fields = ["status", "scope_kind", "scope_code"]

    def get_queryset(self):
        return selectors.print_runs_for(self.request.user)

    @extend_schema(responses={202: PrintRunSerializer})
    def create(self, request, *args, **kwargs):
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        run = services.create_print_run(actor=request.user, scope_kind=v["scope_kind"], scope_code=v["scope_code"],
                                        kinds=v["kinds"], codes_per_sheet=v.get("codes_per_sheet"))
        return Response(self.get_serializer(run).data, status=status.HTTP_202_ACCEPTED)

    def _file(self, part: str):
        run = self.get_object()
        if run.status != PrintRun.Status.DONE:
            raise DomainError(f"The files are not ready yet ({run.done} of {run.total} codes).",
                              code="not_ready", status=409)
        field = run.pdf if part == "pdf" else run.zip
        name = f"codes-{run.scope_code}-{run.pk}.{part}"
        return FileResponse(field.open("rb"), as_attachment=True, filename=name,
                            content_type="application/pdf" if part == "pdf" else "application/zip")

    @extend_schema(responses={(200, "application/pdf"): bytes}, summary="The print-ready PDF")
    @action(detail=True, methods=["get"])
    def pdf(self, request, pk=None):
        return self._file("pdf")

    @extend_schema(responses={(200, "application/zip"): bytes}, summary="A ZIP of one SVG per code")
    @action(detail=True, methods=["get"], url_path="zip")
    def zip_file(self, request, pk=None):
        return self._file("zip")


# --- binding -------------------------------------------------------------------------------------------

class BindingSerializer(serializers.ModelSerializer):
    id_number = serializers.CharField(source="id_number_masked", read_only=True)
    household_address = serializers.CharField(source="household.address", read_only=True)

    class Meta:
        model = BindingRequest
        fields = ["id", "household", "household_address", "name", "id_number", "relation", "status", "matched",
                  "resident", "created_at", "decided_at", "reason"]


class NewBindingSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=64, help_text="token of the household code that was scanned")
    name = serializers.CharField(max_length=40)
    id_number = serializers.CharField(max_length=32)


class DecisionSerializer(serializers.Serializer):
    relation = serializers.ChoiceField(choices=Membership.Relation.choices, default=Membership.Relation.MEMBER)


class BindingViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Requests to bind to a household. Residents: create one after scanning the household code, list
    their own. Grid workers, community staff and the district admin: list those of their area
    (``?status=pending`` by default, ``all`` for every status) and approve or reject them."""

    serializer_class = BindingSerializer
    permission_classes = [IsAuthenticated]
    queryset = BindingRequest.objects.none()  # for the schema; get_queryset scopes every request

    def _staff(self) -> bool:
        return has_role(self.request.user, *selectors.DECIDERS)

    def get_queryset(self):
        if self._staff() and not query_bool(self.request, "mine"):
            wanted = query_choice(self.request, "status", [*BindingRequest.Status.values, "all"],
                                  BindingRequest.Status.PENDING)
            return selectors.bindings_for(self.request.user, status=None if wanted == "all" else wanted)
        return selectors.own_bindings(self.request.user)

    @extend_schema(parameters=[OpenApiParameter("status", enum=[*BindingRequest.Status.values, "all"]),
                               OpenApiParameter("mine", bool)])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=NewBindingSerializer, responses={201: BindingSerializer},
                   summary="Bind to the household whose code was scanned")
    def create(self, request):
        data = NewBindingSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        try:
            code = selectors.code_by_token(v["token"])
        except selectors.CodeNotFound:
            raise DomainError("token: no household code has this token.", fields={"token": ["Unknown code."]})
        binding = services.request_binding(user=request.user, code=code, name=v["name"], id_number=v["id_number"])
        return Response(BindingSerializer(binding).data, status=status.HTTP_201_CREATED)

    def _decidable(self, pk) -> BindingRequest:
        return get_object_or_404(selectors.bindings_for(self.request.user, status=None), pk=pk)

    @extend_schema(request=DecisionSerializer, responses={200: BindingSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        data = DecisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        binding = services.approve_binding(actor=request.user, request=self._decidable(pk),
                                           relation=data.validated_data["relation"])
        return Response(BindingSerializer(binding).data)

    @extend_schema(request=ReasonSerializer, responses={200: BindingSerializer})
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        data = ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        binding = services.reject_binding(actor=request.user, request=self._decidable(pk),
                                          reason=data.validated_data["reason"])
        return Response(BindingSerializer(binding).data)


# --- the household head --------------------------------------------------------------------------------

class InviteSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = HouseholdInvite
        fields = ["token", "url", "household", "relation", "expires_at", "used_at"]

    def get_url(self, invite) -> str:
        return f"{selectors.site_origin()}/codes/join/{invite.token}/"


class NewInviteSerializer(serializers.Serializer):
    household = serializers.PrimaryKeyRelatedField(queryset=Household.objects.all())
    relation = serializers.ChoiceField(choices=[("member", "member"), ("tenant", "tenant")], default="member")


class AcceptSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=40)
    id_number = serializers.CharField(max_length=32)


class InviteView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=NewInviteSerializer, responses={201: InviteSerializer},
                   summary="Household head: a one-time link for a family member or tenant")
    def post(self, request):
        data = NewInviteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        invite = services.create_invite(actor=request.user, **data.validated_data)
        return Response(InviteSerializer(invite).data, status=status.HTTP_201_CREATED)


class InviteAcceptView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=AcceptSerializer, responses={201: inline_serializer(
        "Joined", {"household": serializers.IntegerField(), "relation": serializers.CharField()})},
        summary="Accept an invitation: name and ID number")
    def post(self, request, token: str):
        data = AcceptSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.accept_invite(user=request.user, invite=selectors.open_invite(token),
                                            **data.validated_data)
        return Response({"household": membership.household_id, "relation": membership.relation},
                        status=status.HTTP_201_CREATED)


class MemberRemoveView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None}, summary="Household head: remove a member")
    def post(self, request, pk: int):
        membership = Membership.objects.select_related("household", "resident").filter(pk=pk).first()
        if membership is None or selectors.membership_of(request.user, membership.household) is None:
            raise DomainError("No such member of your household.", code="not_found", status=404)
        services.remove_member(actor=request.user, membership=membership)
        return Response(status=status.HTTP_204_NO_CONTENT)
