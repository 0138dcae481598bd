"""Photos and videos of a case: upload (multipart, field ``files`` repeated, ``stage`` report|result),
list, and the file itself, served only to people who may see the case (404 for everyone else)."""
from __future__ import annotations

import re

from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from kernel.api import AnonThrottle, CountingThrottle, UserThrottle
from kernel.errors import DomainError
from modules.cases import selectors
from modules.cases.intake import uploads
from modules.cases.models import Attachment, Case

CHUNK = 64 * 1024
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "video/mp4": "mp4"}


class UploadThrottle(CountingThrottle, UserRateThrottle):
    """Uploads cost storage and CPU: a tighter per-user budget for POST (rate "uploads" in
    REST_FRAMEWORK's DEFAULT_THROTTLE_RATES, 60 a minute if unset)."""

    scope = "uploads"

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope) or "60/min"

    def allow_request(self, request, view):
        if request.method != "POST":
            return True
        return super().allow_request(request, view)


class AttachmentSerializer(serializers.ModelSerializer):
    uploaded_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = ["id", "stage", "kind", "content_type", "size", "width", "height", "sha256", "uploaded_by",
                  "uploaded_at", "url"]
        read_only_fields = fields

    def get_url(self, obj) -> str:
        return uploads.attachment_url(obj)


class AttachmentUploadSerializer(serializers.Serializer):  # documents the request; the checks are in uploads
    files = serializers.ListField(child=serializers.FileField(), help_text=(
        "photos (JPEG, PNG, WebP, HEIC; at most 15 MB each) or one MP4 video; repeat the field, at most 9"))
    stage = serializers.ChoiceField(choices=Attachment.Stage.choices, default=Attachment.Stage.REPORT)


def _visible_case(request, pk: int) -> Case:
    return get_object_or_404(selectors.cases_for(request.user), pk=pk)


class AttachmentList(generics.ListAPIView):
    """GET: the case's photos and videos. POST: add some (multipart ``files``, ``stage``)."""

    serializer_class = AttachmentSerializer
    permission_classes = [IsAuthenticated]
    parser_classes = [MultiPartParser, FormParser]
    throttle_classes = [AnonThrottle, UserThrottle, UploadThrottle]
    filterset_fields = ["stage", "kind"]
    ordering_fields = ["uploaded_at", "id"]

    queryset = Attachment.objects.none()  # for the schema; get_queryset checks the case

    def get_queryset(self):
        case = _visible_case(self.request, self.kwargs["pk"])
        return Attachment.objects.filter(case=case).select_related("uploaded_by").order_by("uploaded_at", "id")

    @extend_schema(summary="Add photos or a video to a case", request={"multipart/form-data": AttachmentUploadSerializer},
                   responses={201: AttachmentSerializer(many=True)})
    def post(self, request, pk: int):
        case = _visible_case(request, pk)
        stage = request.data.get("stage") or Attachment.Stage.REPORT
        if stage not in Attachment.Stage.values:
            raise DomainError(_("Stage is report or result."), fields={"stage": [_("Unknown stage.")]})
        files = request.FILES.getlist("files")
        if not files:
            raise DomainError(_("Choose at least one photo or video."), fields={"files": [_("Required.")]})
        prepared = uploads.prepare(files)
        rows = uploads.attach(actor=request.user, case=case, prepared=prepared, stage=stage)
        return Response({"results": AttachmentSerializer(rows, many=True).data}, status=status.HTTP_201_CREATED)


RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def serve_attachment(request, attachment: Attachment):
    """The stored file with its stored content type, never sniffed; single byte ranges for <video>
    (phone browsers need them to play)."""
    etag = f'"{attachment.sha256}"'
    headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=3600", "ETag": etag,
               "Accept-Ranges": "bytes", "Content-Security-Policy": "default-src 'none'; sandbox",
               "Content-Disposition": f'inline; filename="{attachment.case.ref}-{attachment.pk}.'
                                      f'{EXTENSIONS.get(attachment.content_type, "bin")}"'}
    if request.headers.get("If-None-Match") == etag:
        response = HttpResponse(status=304)
        for key in ("ETag", "Cache-Control"):
            response[key] = headers[key]
        return response
    try:
        handle = attachment.file.open("rb")
    except (FileNotFoundError, OSError) as exc:
        raise Http404 from exc
    size = attachment.file.size
    match = RANGE.match(request.headers.get("Range", "").strip())
    if match and (match.group(1) or match.group(2)):
        first, last = match.groups()
        if first:
            start, end = int(first), min(int(last), size - 1) if last else size - 1
        else:  # the last N bytes
            start, end = max(size - int(last), 0), size - 1
        if start > end or start >= size:
            handle.close()
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            return response
        handle.seek(start)

        def chunks(remaining=end - start + 1):
            try:
                while remaining > 0:
                    block = handle.read(min(CHUNK, remaining))
                    if not block:
                        break
                    remaining -= len(block)
                    yield block
            finally:
                handle.close()

        response = StreamingHttpResponse(chunks(), status=206, content_type=attachment.content_type)
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
        response["Content-Length"] = str(end - start + 1)
    else:
        response = FileResponse(handle, content_type=attachment.content_type)
        response["Content-Length"] = str(size)
    for key, value in headers.items():
        response[key] = value
    return response


class AttachmentFile(APIView):
    """GET: the file (image or video bytes), for whoever may see the case; 404 for anyone else."""

    permission_classes = [IsAuthenticated]

    def perform_content_negotiation(self, request, force=False):
        # <img> and <video> ask for image/* or video/*: answer with the file, and errors as JSON.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request, pk: int, attachment_id: int):
        case = _visible_case(request, pk)
        attachment = get_object_or_404(Attachment.objects.select_related("case"), case=case, pk=attachment_id)
        return serve_attachment(request, attachment)


__all__ = ["AttachmentFile", "AttachmentList"]
