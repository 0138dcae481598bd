"""API of ledger imports and data audits. Thin: parse, call a service or selector, render.

    POST imports/                     upload (multipart ``file``) -> 202, the job with its dry-run report
    GET  imports/                     the caller's jobs (district admins: all)
    GET  imports/<id>/                progress and counts (poll it)
    GET  imports/<id>/rows/           per-row status and problems (?status=rejected), paginated
    POST imports/<id>/confirm/        import the valid rows -> 202
    GET  imports/<id>/rejected.xlsx   the rejected rows with a 原因 / reason column
    POST audit/run/                   start a data-audit run -> 202
    GET  audit/runs/                  finished runs, counts per kind (over time)
    GET  audit/findings/              findings in the caller's grids (?kind=&status=&grid=)
    POST audit/findings/<id>/resolve/ {status: confirmed|fixed|dismissed, note}
"""
from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from kernel.permissions import HasRole
from modules.registry import datachecks, ledger, selectors
from modules.registry.models import AuditRun, Finding, ImportJob, LedgerRow

Importers = HasRole(*ledger.IMPORTERS)
AuditReaders = HasRole(*datachecks.HANDLERS)
AuditRunners = HasRole(*datachecks.RUNNERS)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _url(request, name: str, **kwargs) -> str:
    return request.build_absolute_uri(reverse(f"{request.resolver_match.namespace}:{name}", kwargs=kwargs))


class ImportJobSerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    progress = serializers.SerializerMethodField()
    counts = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()
    imported_before = serializers.SerializerMethodField()
    problem_summary = serializers.SerializerMethodField()

    class Meta:
        model = ImportJob
        fields = ["id", "original_name", "file_format", "phase", "status", "dry_run", "error", "progress", "counts",
                  "problem_counts", "problem_summary", "columns", "created_by", "created_at", "checked_at", "confirmed_at",
                  "finished_at", "imported_before", "links"]

    def get_progress(self, job) -> dict:
        return {"done": job.progress_done, "total": job.progress_total, "percent": job.percent}

    def get_counts(self, job) -> dict:
        return {"rows": job.total_rows, "valid": job.valid_count, "rejected": job.rejected_count,
                "unchanged": job.unchanged_count, "imported": job.imported_count,
                "households_created": job.households_created}

    def get_problem_summary(self, job) -> list[dict]:
        """Rejected rows per kind of problem, named in Chinese and English."""
        return [{"code": code, "rows": n, "zh": ledger.PROBLEM_LABELS.get(code, (code, code))[0],
                 "en": ledger.PROBLEM_LABELS.get(code, (code, code))[1]} for code, n in job.problem_counts.items()]

    def get_imported_before(self, job) -> list[int]:
        """Earlier imports of exactly this file (re-importing is harmless: nobody is added twice)."""
        return list(ledger.same_file_jobs(job).values_list("id", flat=True)[:10])

    def get_links(self, job) -> dict:
        request = self.context["request"]
        links = {"self": _url(request, "ledger-import-detail", pk=job.pk),
                 "rows": _url(request, "ledger-import-rows", pk=job.pk),
                 "confirm": _url(request, "ledger-import-confirm", pk=job.pk)}
        if job.rejected_file:
            links["rejected"] = _url(request, "ledger-import-rejected", pk=job.pk)
        return links


class LedgerRowSerializer(serializers.ModelSerializer):
    row = serializers.SerializerMethodField()

    class Meta:
        model = LedgerRow
        fields = ["line", "status", "problems", "row", "resident", "household"]

    def get_row(self, stored) -> dict:
        return ledger.row_preview(stored, self.context["job"], full=self.context["full"])


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="the ledger: .xlsx, or .csv in UTF-8 or GB18030")


class ImportJobList(generics.ListAPIView):
    serializer_class = ImportJobSerializer
    permission_classes = [Importers]
    parser_classes = [MultiPartParser, FormParser]
    filterset_fields = ["phase", "status"]
    queryset = ImportJob.objects.none()  # for the schema; get_queryset scopes every request

    def get_queryset(self):
        return ledger.jobs_for(self.request.user)

    @extend_schema(request=UploadSerializer, responses={202: ImportJobSerializer},
                   summary="Upload a ledger: the dry run reports every row's problems; nothing is imported yet")
    def post(self, request):
        data = UploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        job = ledger.upload_ledger(actor=request.user, file=data.validated_data["file"])
        return Response(self.get_serializer(job).data, status=status.HTTP_202_ACCEPTED)


class ImportJobDetail(generics.RetrieveAPIView):
    serializer_class = ImportJobSerializer
    permission_classes = [Importers]

    def get_queryset(self):
        return ledger.jobs_for(self.request.user)


class ImportJobRows(generics.ListAPIView):
    serializer_class = LedgerRowSerializer
    permission_classes = [Importers]
    filter_backends: list = []

    def _job(self) -> ImportJob:
        if not hasattr(self, "_job_cache"):
            self._job_cache = get_object_or_404(ledger.jobs_for(self.request.user), pk=self.kwargs["pk"])
        return self._job_cache

    def get_queryset(self):
        return ledger.rows_of(self._job(), status=self.request.query_params.get("status"))

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "job": self._job(),
                "full": selectors.sees_full_id_numbers(self.request.user)}

    @extend_schema(parameters=[OpenApiParameter("status", str, description="valid, rejected, unchanged, imported "
                                                                            "(comma-separated)")])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ImportJobConfirm(APIView):
    permission_classes = [Importers]

    @extend_schema(request=None, responses={202: ImportJobSerializer}, summary="Import the valid rows")
    def post(self, request, pk: int):
        job = get_object_or_404(ledger.jobs_for(request.user), pk=pk)
        job = ledger.confirm_import(actor=request.user, job=job)
        return Response(ImportJobSerializer(job, context={"request": request}).data, status=status.HTTP_202_ACCEPTED)


class ImportJobRejected(APIView):
    permission_classes = [Importers]

    @extend_schema(responses={(200, XLSX): OpenApiTypes.BINARY}, summary="The rejected rows, with a reason column")
    def get(self, request, pk: int):
        job = get_object_or_404(ledger.jobs_for(request.user), pk=pk)
        content, filename = ledger.rejected_workbook(job)
        response = HttpResponse(content, content_type=XLSX)
        response["Content-Disposition"] = content_disposition_header(True, filename)
        response["Cache-Control"] = "private, no-store"
        return response


class AuditRunSerializer(serializers.ModelSerializer):
    counts = serializers.DictField(child=serializers.IntegerField(), read_only=True)
    total = serializers.IntegerField(read_only=True)

    class Meta:
        model = AuditRun
        fields = ["id", "status", "created_at", "started_at", "finished_at", "counts", "total", "residents_checked",
                  "households_checked", "new_findings", "closed_findings", "reopened_findings", "error"]


class AuditRunList(generics.ListAPIView):
    """Finished runs, newest first, each with its counts per kind: the counts over time."""

    serializer_class = AuditRunSerializer
    permission_classes = [AuditReaders]
    filter_backends: list = []

    def get_queryset(self):
        return AuditRun.objects.all()


class AuditRunStart(APIView):
    permission_classes = [AuditRunners]

    @extend_schema(request=None, responses={202: AuditRunSerializer}, summary="Start a data-audit run")
    def post(self, request):
        run = datachecks.start_audit(actor=request.user)
        return Response(AuditRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class FindingSerializer(serializers.ModelSerializer):
    grid = serializers.SlugRelatedField(slug_field="code", read_only=True)
    household = serializers.SerializerMethodField()
    resident = serializers.SerializerMethodField()
    other_resident = serializers.SerializerMethodField()
    description = serializers.SerializerMethodField()
    resolved_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    first_run = serializers.IntegerField(source="run_id", read_only=True)
    last_run = serializers.IntegerField(source="last_run_id", read_only=True)

    class Meta:
        model = Finding
        fields = ["id", "kind", "status", "grid", "household", "resident", "other_resident", "description", "note",
                  "resolved_by", "resolved_at", "first_run", "last_run", "created_at"]

    def _person(self, resident) -> dict | None:
        if resident is None:
            return None
        return {"id": resident.pk, "name": resident.name,
                "id_number": datachecks.masked_id(resident, full=self.context.get("full", False))}

    def get_household(self, finding) -> dict | None:
        h = finding.household
        return {"id": h.pk, "address": h.address} if h else None

    def get_resident(self, finding) -> dict | None:
        return self._person(finding.resident)

    def get_other_resident(self, finding) -> dict | None:
        return self._person(finding.other_resident)

    def get_description(self, finding) -> dict:
        return datachecks.describe(finding, full_numbers=self.context.get("full", False))


class FindingList(generics.ListAPIView):
    serializer_class = FindingSerializer
    permission_classes = [AuditReaders]
    filterset_fields = {"kind": ["exact"], "status": ["exact", "in"], "grid__code": ["exact"], "last_run": ["exact"]}

    def get_queryset(self):
        return datachecks.findings_for(self.request.user).order_by("-last_run_id", "kind", "id")

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "full": selectors.sees_full_id_numbers(self.request.user)}


class ResolveSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=[s.value for s in datachecks.RESOLUTIONS])
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class FindingResolve(APIView):
    permission_classes = [AuditReaders]

    @extend_schema(request=ResolveSerializer, responses={200: FindingSerializer},
                   summary="Confirm, fix or dismiss a finding (the grid's workers, community staff above, admins)")
    def post(self, request, pk: int):
        data = ResolveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        finding = get_object_or_404(datachecks.findings_for(request.user), pk=pk)
        finding = datachecks.resolve_finding(actor=request.user, finding=finding, **data.validated_data)
        finding = datachecks.findings_for(request.user).get(pk=finding.pk)
        full = selectors.sees_full_id_numbers(request.user)
        return Response(FindingSerializer(finding, context={"request": request, "full": full}).data)
