"""The award batch API under /api/v1/points/: batches/ (JSON lists or a spreadsheet of ID numbers, with
progress), batches/<id>/, batches/<id>/retry/. Thin: ``batches.services`` checks and runs them."""
from __future__ import annotations

import django_filters
from django.db.models import Q
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import (
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from kernel import idempotency
from kernel.errors import DomainError
from modules.points.api_common import (
    IDEMPOTENCY_HEADER_ONLY,
    Staff,
    _all_targets_inside,
    _fake,
    _inside,
    values_field,
)
from modules.points.batches import files as batch_files
from modules.points.batches import selectors as batch_selectors
from modules.points.batches import services as batches
from modules.points.ledger import services as ledger
from modules.points.models import (
    Batch,
    Proposal,
)


def batches_for(user):
    qs = Batch.objects.select_related("rule", "rule_version", "created_by", "approved_by", "proposal")
    inside = _inside(user, ledger.POSTER_ROLES)
    if inside is None:
        return qs
    return qs.filter(Q(created_by=user) | _all_targets_inside(inside))


# --- batches ------------------------------------------------------------------------------------------------

@extend_schema_serializer(component_name="PointsBatchProgress")
class ProgressSerializer(serializers.Serializer):
    status = serializers.CharField()
    done = serializers.IntegerField(help_text="targets processed")
    total = serializers.IntegerField()
    percent = serializers.FloatField()
    posted = serializers.IntegerField()
    skipped = serializers.IntegerField(help_text="over the rule's cap, or already posted")
    unknown = serializers.IntegerField(help_text="listed people not found in the registry")
    sms_sent = serializers.IntegerField(help_text="text messages about the finished batch sent so far (quiet hours "
                                                  "and retries may add to it later); 0 before it is done")
    sms_failed = serializers.IntegerField(help_text="text messages about the finished batch that could not be sent "
                                                    "after every retry")


@extend_schema_serializer(component_name="PointsBatch")
class BatchSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    status = values_field(Batch.Status.choices)
    rule = serializers.CharField(source="rule.code")
    rule_name = serializers.CharField(source="rule_version.name_zh")
    rule_version = serializers.IntegerField(source="rule_version.version")
    points = serializers.IntegerField(help_text="signed, per resident")
    occurred_on = serializers.DateField()
    reason = serializers.CharField()
    evidence = serializers.CharField()
    target_source = serializers.CharField(help_text="residents, id_numbers, place, or a registered source")
    target_params = serializers.JSONField(help_text="never personal numbers")
    target_count = serializers.IntegerField()
    unknown_count = serializers.IntegerField()
    error = serializers.CharField()
    created_by = serializers.CharField(source="created_by.username", default=None, allow_null=True)
    approved_by = serializers.CharField(source="approved_by.username", default=None, allow_null=True)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    proposal = serializers.SerializerMethodField(help_text="the committee's proposal, when it needs one")
    progress = serializers.SerializerMethodField()

    def get_proposal(self, batch) -> int | None:
        try:
            return batch.proposal.pk
        except Proposal.DoesNotExist:
            return None

    @extend_schema_field(ProgressSerializer)
    def get_progress(self, batch) -> dict:
        if self.context.get("progress"):
            return self.context["progress"]
        return batch_selectors.progress(batch)


@extend_schema_serializer(component_name="PointsIdFileSummary")
class FileSummarySerializer(serializers.Serializer):
    rows = serializers.IntegerField(help_text="non-empty cells in the ID column")
    valid = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    invalid = serializers.IntegerField()
    problems = serializers.ListField(child=serializers.DictField(), help_text="the first 50: {row, problem}")
    column = serializers.CharField(help_text="the header found; empty when the file had none")


@extend_schema_serializer(component_name="PointsBatchCreated")
class BatchCreatedSerializer(BatchSerializer):
    file = FileSummarySerializer(allow_null=True, help_text="what the uploaded list held")


@extend_schema_serializer(component_name="PointsPlace")
class PlaceSerializer(serializers.Serializer):
    kind = values_field(sorted(batches.PLACE_LOOKUPS))
    code = serializers.CharField(max_length=40)


@extend_schema_serializer(component_name="PointsBatchCreate")
class BatchCreateSerializer(serializers.Serializer):
    """Choose the residents one way: ``resident_ids``, ``id_numbers``, ``place``, ``source`` (with
    ``params``) or — as multipart/form-data — ``file``, a spreadsheet (.xlsx) or CSV with a column of
    ID numbers headed 身份证号 (or the numbers in the first column)."""

    rule = serializers.CharField(help_text="rule code")
    points = serializers.IntegerField(help_text="signed, per resident")
    reason = serializers.CharField(max_length=500)
    title = serializers.CharField(required=False, allow_blank=True, max_length=120, default="")
    occurred_on = serializers.DateField(required=False, allow_null=True)
    evidence = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    resident_ids = serializers.ListField(child=serializers.IntegerField(), required=False, allow_empty=False,
                                         max_length=batches.MAX_TARGETS)
    id_numbers = serializers.ListField(child=serializers.CharField(max_length=40), required=False, allow_empty=False,
                                       max_length=batches.MAX_TARGETS, help_text="never stored")
    place = PlaceSerializer(required=False)
    source = serializers.CharField(required=False, help_text="a source another module registers, e.g. drive_attendees")
    params = serializers.JSONField(required=False, help_text="the source's parameters")
    file = serializers.FileField(required=False, help_text=".xlsx or .csv with a column of ID numbers")
    chunk_size = serializers.IntegerField(required=False, min_value=1, max_value=20_000)


class BatchFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Batch.Status.choices)
    rule = django_filters.CharFilter(field_name="rule__code")
    created_by = django_filters.CharFilter(field_name="created_by__username")

    class Meta:
        model = Batch
        fields = []


class Batches(generics.ListAPIView):
    """GET: award batches the caller made or whose residents all live in their area, newest first,
    with progress. POST: make a batch (one rule for many residents): it goes to the committee when the
    rule or the district asks for it, otherwise it starts at once (in the background)."""

    serializer_class = BatchSerializer
    permission_classes = [Staff]
    filterset_class = BatchFilter
    ordering_fields = ["created_at", "id"]

    def get_queryset(self):
        if _fake(self):
            return Batch.objects.none()
        return batches_for(self.request.user).order_by("-created_at", "-id")

    @extend_schema(summary="Make an award batch", request=BatchCreateSerializer, parameters=[IDEMPOTENCY_HEADER_ONLY],
                   responses={201: BatchCreatedSerializer, 200: BatchCreatedSerializer})
    def post(self, request):
        key = idempotency.key_from(request)  # 400 for a bad key, before the list is read
        data = BatchCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        parsed = None
        id_numbers = v.get("id_numbers")
        if v.get("file") is not None:
            if id_numbers is not None:
                raise DomainError(_("Send the ID numbers either as a list or as a file, not both."),
                                  fields={"file": [_("Choose one.")]})
            parsed = batch_files.read_upload(v["file"])
            id_numbers = parsed.numbers
        batch = batches.create_batch(
            actor=request.user, rule=v["rule"], points=v["points"], reason=v["reason"], title=v.get("title", ""),
            occurred_on=v.get("occurred_on"), evidence=v.get("evidence", ""), resident_ids=v.get("resident_ids"),
            id_numbers=id_numbers, place=dict(v["place"]) if v.get("place") else None, source=v.get("source"),
            params=v.get("params"), chunk_size=v.get("chunk_size"), idempotency_key=key)
        body = BatchSerializer(batches_for(request.user).filter(pk=batch.pk).first() or batch).data
        body["file"] = parsed.summary() if parsed is not None else None
        return Response(body, status=status.HTTP_201_CREATED if idempotency.created(batch) else 200)


class BatchDetail(APIView):
    """A batch with its progress (refresh to follow a running one)."""

    permission_classes = [Staff]

    @extend_schema(responses={200: BatchSerializer})
    def get(self, request, pk: int):
        batch = get_object_or_404(batches_for(request.user), pk=pk)
        return Response(BatchSerializer(batch, context={"progress": batch_selectors.batch_progress(batch)}).data)


class BatchRetry(APIView):
    """Start a failed batch again (who made it, or the administrator); it continues after the last
    committed chunk and never posts anyone twice. 409 unless the batch failed."""

    permission_classes = [Staff]

    @extend_schema(summary="Retry a failed batch", request=None, responses={200: BatchSerializer})
    def post(self, request, pk: int):
        batch = get_object_or_404(batches_for(request.user), pk=pk)
        batch = batches.retry_batch(actor=request.user, batch=batch)
        return Response(BatchSerializer(get_object_or_404(batches_for(request.user), pk=batch.pk)).data)
