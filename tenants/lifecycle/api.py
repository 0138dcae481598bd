"""Platform API of the end of a district's life (/api/v1/lifecycle/, public host): platform staff (ops)
only. A vendor asking about a district that is not its own gets 404 (as if it did not exist); about
its own, 403: archive, export, restore, delete and the downloads are the platform's (docs/lifecycle.md)."""
from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import FileResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.response import Response

from kernel import audit
from kernel.errors import DomainError
from tenants.access import OPS, HasPlatformRole, districts_for, for_vendor_of, has_platform_role
from tenants.lifecycle import selectors, services
from tenants.lifecycle.exports import file_path
from tenants.lifecycle.models import DistrictArchive, DistrictExport, DistrictRestore, DistrictTombstone
from tenants.models import District


def district_for_ops(request, slug: str) -> District:
    """The district ``slug`` for platform staff: 404 to anyone who may not see it, 403 to a vendor who may."""
    district = get_object_or_404(districts_for(request.user), slug=slug)
    if not has_platform_role(request.user, OPS):
        raise PermissionDenied
    return district


def export_for_ops(request, pk: int) -> DistrictExport:
    qs = for_vendor_of(request.user, DistrictExport.objects.select_related("district"), field="district__vendor")
    export = get_object_or_404(qs, pk=pk)
    if not has_platform_role(request.user, OPS):
        raise PermissionDenied
    return export


class FileSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=list(DistrictExport.FILES))
    sha256 = serializers.CharField()
    size = serializers.IntegerField()
    url = serializers.CharField(help_text="download (platform staff only; audit-logged)")


class ExportSerializer(serializers.ModelSerializer):
    district = serializers.SlugRelatedField(read_only=True, slug_field="slug", allow_null=True)
    requested_by = serializers.SlugRelatedField(read_only=True, slug_field="username", allow_null=True)
    files = serializers.SerializerMethodField()
    tables = serializers.SerializerMethodField()

    class Meta:
        model = DistrictExport
        fields = ["id", "district", "slug", "schema_name", "status", "step", "error", "reason", "requested_by",
                  "created_at", "started_at", "finished_at", "tables", "files"]

    @extend_schema_field(FileSerializer(many=True))
    def get_files(self, export) -> list[dict]:
        out = []
        for kind in DistrictExport.FILES:
            info = export.file_info(kind)
            if info:
                out.append({"kind": kind, "sha256": info["sha256"], "size": info["size"],
                            "url": f"/api/v1/lifecycle/exports/{export.pk}/files/{kind}/"})
        return out

    def get_tables(self, export) -> int:
        return len(export.row_counts or {})


class ArchiveRecordSerializer(serializers.ModelSerializer):
    class Meta:
        model = DistrictArchive
        fields = ["archived_at", "retention_days", "delete_not_before", "reason", "deleted_at"]


class LifecycleDistrictSerializer(serializers.ModelSerializer):
    archive = serializers.SerializerMethodField()
    vendor = serializers.SlugRelatedField(read_only=True, slug_field="slug", allow_null=True)

    class Meta:
        model = District
        fields = ["slug", "name_zh", "name_en", "status", "schema_name", "vendor", "status_changed_at", "archive"]

    @extend_schema_field(ArchiveRecordSerializer(allow_null=True))
    def get_archive(self, district) -> dict | None:
        try:
            record = district.archive_record
        except DistrictArchive.DoesNotExist:
            record = None
        return ArchiveRecordSerializer(record).data if record else None


class RestoreSerializer(serializers.ModelSerializer):
    district = serializers.SlugRelatedField(read_only=True, slug_field="slug", allow_null=True)

    class Meta:
        model = DistrictRestore
        fields = ["id", "export", "district", "slug", "reason", "created_at", "seconds", "caught_up"]


class LifecycleDetailSerializer(serializers.Serializer):
    district = LifecycleDistrictSerializer()
    exports = ExportSerializer(many=True)
    restores = RestoreSerializer(many=True)
    deletable = serializers.BooleanField()
    why_not_deletable = serializers.CharField(allow_null=True)


class TombstoneSerializer(serializers.ModelSerializer):
    vendor = serializers.SlugRelatedField(read_only=True, slug_field="slug", allow_null=True)

    class Meta:
        model = DistrictTombstone
        fields = ["id", "slug", "name_zh", "name_en", "schema_name", "domains", "vendor", "export", "deleted_at",
                  "reason"]


class ActionSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, help_text="Why: kept in the audit log.")
    confirm = serializers.BooleanField(help_text="Must be true: the change is confirmed.")

    def validate_confirm(self, value):
        if value is not True:
            raise serializers.ValidationError("Confirm the change (confirm: true).")
        return value


class ArchiveSerializer(ActionSerializer):
    retention_days = serializers.IntegerField(required=False, allow_null=True, min_value=1,
                                              max_value=services.MAX_RETENTION_DAYS,
                                              help_text="days the archived district is kept before it may be "
                                                        "deleted (default: settings.DISTRICT_RETENTION_DAYS)")


class RestoreRequestSerializer(ActionSerializer):
    slug = serializers.CharField(max_length=40)
    domain = serializers.CharField(max_length=253, required=False, allow_blank=True)
    name_zh = serializers.CharField(max_length=80, required=False, allow_blank=True)


class DistrictList(generics.ListAPIView):
    """Districts that are archived or have an export (platform staff)."""

    permission_classes = [HasPlatformRole.of(OPS)]
    serializer_class = LifecycleDistrictSerializer
    filterset_fields = ["status"]
    ordering_fields = ["slug", "status_changed_at"]

    def get_queryset(self):
        return selectors.lifecycle_districts(self.request.user)


class DistrictDetail(generics.GenericAPIView):
    """One district's archive record, exports (with job progress and files), restores, and whether it
    may be deleted now (and why not)."""

    permission_classes = [HasPlatformRole.of()]
    serializer_class = LifecycleDetailSerializer

    def get(self, request, slug: str):
        state = selectors.lifecycle_of(district_for_ops(request, slug))
        return Response(LifecycleDetailSerializer(state).data)


class Archive(generics.GenericAPIView):
    """Archive the district (read-only) with its retention period."""

    permission_classes = [HasPlatformRole.of()]
    serializer_class = ArchiveSerializer

    @extend_schema(request=ArchiveSerializer, responses={200: ArchiveRecordSerializer})
    def post(self, request, slug: str):
        district = district_for_ops(request, slug)
        data = ArchiveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        record = services.archive_district(actor=request.user, district=district, reason=data.validated_data["reason"],
                                           retention_days=data.validated_data.get("retention_days"))
        return Response(ArchiveRecordSerializer(record).data)


class Exports(generics.ListCreateAPIView):
    """The district's exports (GET), or a new one (POST: a job; 202, or the one under way)."""

    permission_classes = [HasPlatformRole.of()]
    serializer_class = ExportSerializer
    ordering_fields = ["created_at"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular reading the view
            return DistrictExport.objects.none()
        return selectors.exports_of(district_for_ops(self.request, self.kwargs["slug"]))

    @extend_schema(request=ActionSerializer, responses={202: ExportSerializer})
    def post(self, request, slug: str):
        district = district_for_ops(request, slug)
        data = ActionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        export = services.request_export(actor=request.user, district=district, reason=data.validated_data["reason"])
        return Response(ExportSerializer(export).data, status=status.HTTP_202_ACCEPTED)


class Delete(generics.GenericAPIView):
    """Delete an archived district past its retention that has a finished export: its schema is dropped,
    its domains removed, a tombstone kept."""

    permission_classes = [HasPlatformRole.of()]
    serializer_class = ActionSerializer

    @extend_schema(request=ActionSerializer, responses={200: TombstoneSerializer})
    def post(self, request, slug: str):
        district = district_for_ops(request, slug)
        data = ActionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        tombstone = services.delete_district(actor=request.user, district=district,
                                             reason=data.validated_data["reason"])
        return Response(TombstoneSerializer(tombstone).data)


class ExportDetail(generics.GenericAPIView):
    permission_classes = [HasPlatformRole.of()]
    serializer_class = ExportSerializer

    def get(self, request, pk: int):
        return Response(ExportSerializer(export_for_ops(request, pk)).data)


class Restore(generics.GenericAPIView):
    """Make a new district (new slug and schema; active, not live) from a finished export."""

    permission_classes = [HasPlatformRole.of()]
    serializer_class = RestoreRequestSerializer

    @extend_schema(request=RestoreRequestSerializer, responses={201: LifecycleDistrictSerializer})
    def post(self, request, pk: int):
        export = export_for_ops(request, pk)
        data = RestoreRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        district = services.restore_export(actor=request.user, export=export, slug=v["slug"],
                                           domain=v.get("domain") or None, reason=v["reason"],
                                           name_zh=v.get("name_zh", ""))
        return Response(LifecycleDistrictSerializer(district).data, status=status.HTTP_201_CREATED)


def download(request, export: DistrictExport, kind: str) -> FileResponse:
    """One file of an export, to platform staff, audit-logged (shared by the API and the page)."""
    if kind not in DistrictExport.FILES:
        raise DomainError("Unknown file.", code="not_found", status=404)
    path = file_path(export, kind)
    if path is None or not path.exists():
        raise DomainError("该文件不存在。This file does not exist.", code="not_found", status=404)
    with transaction.atomic():
        audit.record(actor=request.user, action="lifecycle.export.download", target=export,
                     after={"kind": kind, "sha256": getattr(export, f"{kind}_sha256")})
    return FileResponse(open(path, "rb"), as_attachment=True, filename=path.name)  # noqa: SIM115 - closed by Django


class ExportFile(generics.GenericAPIView):
    """Download one file of an export: ``dump`` (pg_dump custom format), ``media`` (.tar.gz) or
    ``workbook`` (.xlsx). Platform staff only; every download is audit-logged."""

    permission_classes = [HasPlatformRole.of()]
    serializer_class = None

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY,
                              404: OpenApiResponse(description="no such file")})
    def get(self, request, pk: int, kind: str):
        return download(request, export_for_ops(request, pk), kind)


class TombstoneList(generics.ListAPIView):
    """Deleted districts: what is kept of them."""

    permission_classes = [HasPlatformRole.of(OPS)]
    serializer_class = TombstoneSerializer
    ordering_fields = ["deleted_at", "slug"]

    def get_queryset(self):
        return selectors.tombstones()
