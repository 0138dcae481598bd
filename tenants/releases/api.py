"""Platform API of releases (/api/v1/releases/, public host, ops only): the migration report per
schema, the recorded runs with their per-schema outcomes, and the retry of one district."""
from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.response import Response

from tenants.access import OPS, HasPlatformRole
from tenants.models import District
from tenants.releases import selectors, services
from tenants.releases.models import ReleaseOutcome, ReleaseRun


class AppStateSerializer(serializers.Serializer):
    app = serializers.CharField()
    latest = serializers.CharField(allow_null=True, help_text="last applied migration of the app in this schema")
    leaf = serializers.CharField(help_text="the code's leaf migration of the app")
    missing = serializers.ListField(child=serializers.CharField(), help_text="the code's migrations not applied here")
    behind = serializers.BooleanField()


class OutcomeBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = ReleaseOutcome
        fields = ["run", "status", "error", "seconds", "finished_at"]


class ReportRowSerializer(serializers.Serializer):
    schema_name = serializers.CharField()
    district = serializers.SerializerMethodField()
    name_zh = serializers.SerializerMethodField()
    spare = serializers.BooleanField(source="is_spare")
    behind = serializers.BooleanField()
    failed = serializers.BooleanField()
    apps = serializers.SerializerMethodField()
    unknown = serializers.SerializerMethodField()
    last_outcome = OutcomeBriefSerializer(source="last", allow_null=True)

    def get_district(self, row) -> str | None:
        return row.district.slug if row.district else None

    def get_name_zh(self, row) -> str:
        return row.district.name_zh if row.district else ""

    @extend_schema_field(AppStateSerializer(many=True))
    def get_apps(self, row) -> list[dict]:
        return AppStateSerializer(row.state.apps if row.state else [], many=True).data

    def get_unknown(self, row) -> list[str]:
        return row.state.unknown if row.state else []


class OutcomeSerializer(serializers.ModelSerializer):
    class Meta:
        model = ReleaseOutcome
        fields = ["schema_name", "status", "error", "seconds", "applied", "behind", "started_at", "finished_at"]


class RunSerializer(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(read_only=True, slug_field="username", allow_null=True)

    class Meta:
        model = ReleaseRun
        fields = ["id", "kind", "status", "executor", "processes", "schema_name", "actor", "reason", "total", "ok",
                  "failed", "shared_seconds", "seconds", "error", "code_leaves", "created_at", "started_at",
                  "finished_at"]


class RunDetailSerializer(RunSerializer):
    outcomes = OutcomeSerializer(many=True, read_only=True)

    class Meta(RunSerializer.Meta):
        fields = [*RunSerializer.Meta.fields, "outcomes"]


class RetrySerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, help_text="Why: kept in the audit log.")


ONLY = OpenApiParameter("only", str, enum=["behind", "failed"], required=False,
                        description="only the schemas behind the code, or whose last outcome failed")


class Report(generics.ListAPIView):
    """Which district schema is at which migration: per app the latest applied migration against the
    code's leaf; ``behind`` when a migration of the code is unapplied, ``failed`` when the last release
    outcome recorded for the schema failed. Failed first, then behind."""

    permission_classes = [HasPlatformRole.of(OPS)]
    serializer_class = ReportRowSerializer
    filter_backends: list = []

    @extend_schema(parameters=[ONLY])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        only = self.request.query_params.get("only", "")
        if only not in ("", "behind", "failed"):
            from kernel.errors import DomainError

            raise DomainError("only: behind or failed.", fields={"only": ["behind or failed"]})
        return selectors.report(only=only)


class Runs(generics.ListAPIView):
    """Release runs, newest first: ``migrate_all`` (kind "all") and retries of one district."""

    permission_classes = [HasPlatformRole.of(OPS)]
    serializer_class = RunSerializer
    filterset_fields = ["kind", "status"]
    ordering_fields = ["created_at"]

    def get_queryset(self):
        return selectors.runs()


class RunDetail(generics.RetrieveAPIView):
    """One run with the outcome of each schema."""

    permission_classes = [HasPlatformRole.of(OPS)]
    serializer_class = RunDetailSerializer

    def get_queryset(self):
        return selectors.runs().prefetch_related("outcomes")


class Retry(generics.GenericAPIView):
    """Migrate one district's schema again (``migrate_schemas --schema=<name>``), as a recorded job:
    202 with the run, queued. A retry already queued or running for it is returned, not doubled."""

    permission_classes = [HasPlatformRole.of(OPS)]
    serializer_class = RetrySerializer

    @extend_schema(request=RetrySerializer, responses={202: RunSerializer})
    def post(self, request, slug: str):
        district = get_object_or_404(District.objects.exclude(schema_name="public"), slug=slug)
        data = RetrySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        run = services.retry_district(actor=request.user, district=district, reason=data.validated_data["reason"])
        return Response(RunSerializer(run).data, status=status.HTTP_202_ACCEPTED)
