"""The onboarding API on the public host (``/api/v1/onboarding/``): vendors file, edit, submit and
withdraw their applications and answer comments; platform staff (ops) approve or send back, and retry a
failed provisioning run; both watch the progress. A vendor only ever finds its own applications: any
other id is 404 (``selectors.applications_for``). Thin: every rule is in ``onboarding.services``."""
from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from kernel.api import JSONParser
from kernel.errors import NotAllowed
from onboarding import selectors, services
from onboarding.models import Application, Comment
from tenants.access import OPS, VENDOR, HasPlatformRole, has_platform_role, vendor_ids

ANYONE = HasPlatformRole.of(OPS, VENDOR)
STAFF = HasPlatformRole.of(OPS)


class ApplicationSerializer(serializers.ModelSerializer):
    vendor = serializers.SlugRelatedField(read_only=True, slug_field="slug")
    state_label = serializers.CharField(source="get_state_display", read_only=True)
    contact_phone = serializers.CharField(source="contact_phone_masked", read_only=True,
                                          help_text="Masked (139****5678).")
    source_district = serializers.SlugRelatedField(read_only=True, slug_field="slug", allow_null=True)
    district = serializers.SlugRelatedField(read_only=True, slug_field="slug", allow_null=True)
    logo = serializers.SerializerMethodField()

    class Meta:
        model = Application
        fields = ["id", "vendor", "state", "state_label", "name_zh", "name_en", "region_code", "region_name", "slug",
                  "domain", "contact_name", "contact_phone", "contact_email", "population", "modules",
                  "seed_template", "source_district", "title_zh", "title_en", "primary_color", "accent_color", "logo",
                  "dpa_version", "dpa_signer", "dpa_accepted_at", "plan_key", "district", "submitted_at",
                  "decided_at", "created_at", "updated_at"]
        read_only_fields = fields

    def get_logo(self, application) -> str | None:
        return application.logo.url if application.logo else None


class ApplicationInputSerializer(serializers.Serializer):
    """What a vendor sends (JSON, or multipart with ``logo``). Only the type is checked here: the rules
    (region, free slug and domain, modules, …) are the services', and every broken one is named."""

    vendor = serializers.SlugField(required=False, help_text="Only for someone working for several vendors.")
    name_zh = serializers.CharField(max_length=80, required=False)
    name_en = serializers.CharField(max_length=80, required=False, allow_blank=True)
    region_code = serializers.CharField(max_length=6, required=False, help_text="GB/T 2260, 6 digits, e.g. 150603.")
    slug = serializers.CharField(max_length=40, required=False)
    domain = serializers.CharField(max_length=253, required=False, allow_blank=True,
                                   help_text="Own domain; empty for <slug>.<district domain suffix>.")
    contact_name = serializers.CharField(max_length=80, required=False)
    contact_phone = serializers.CharField(max_length=40, required=False)
    contact_email = serializers.CharField(max_length=200, required=False)
    population = serializers.IntegerField(required=False, min_value=1)
    modules = serializers.ListField(child=serializers.CharField(max_length=40), required=False, max_length=50)
    seed_template = serializers.CharField(max_length=40, required=False, help_text="default, kangbashi, dongsheng, laixi")
    source_district = serializers.CharField(max_length=40, required=False, allow_blank=True,
                                            help_text="Slug of one of your districts whose rules are copied.")
    title_zh = serializers.CharField(max_length=80, required=False, allow_blank=True)
    title_en = serializers.CharField(max_length=80, required=False, allow_blank=True)
    primary_color = serializers.CharField(max_length=7, required=False)
    accent_color = serializers.CharField(max_length=7, required=False)
    plan_key = serializers.CharField(max_length=60, required=False)
    dpa_accepted = serializers.BooleanField(required=False, help_text="The vendor accepts the agreement shown.")
    dpa_signer = serializers.CharField(max_length=80, required=False, allow_blank=True)
    dpa_version = serializers.CharField(max_length=20, required=False, allow_blank=True)
    logo = serializers.FileField(required=False, help_text="PNG, JPEG or WebP, at most 2 MB (checked by content).")
    clear_logo = serializers.BooleanField(required=False)
    submit = serializers.BooleanField(required=False, help_text="On create: submit for review at once.")


class CommentSerializer(serializers.ModelSerializer):
    author = serializers.SerializerMethodField()

    class Meta:
        model = Comment
        fields = ["id", "author_kind", "author", "body", "created_at"]
        read_only_fields = fields

    def get_author(self, comment) -> str:
        user = comment.author
        return (user.display_name or user.username) if user else ""


class CommentInputSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=2000)


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, help_text="Why: kept in the audit log.")


class ReturnSerializer(serializers.Serializer):
    comment = serializers.CharField(max_length=2000, help_text="What the vendor should change.")


class StepSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    state = serializers.ChoiceField(choices=["pending", "running", "done", "failed"])
    state_label = serializers.CharField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    seconds = serializers.FloatField(allow_null=True)
    result = serializers.DictField()
    error = serializers.CharField(allow_blank=True)
    attempts = serializers.IntegerField()


class RunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["queued", "running", "done", "failed"])
    status_label = serializers.CharField()
    error = serializers.CharField(allow_blank=True)
    attempts = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    done = serializers.IntegerField()
    total = serializers.IntegerField()
    steps = StepSerializer(many=True)


class ProgressSerializer(serializers.Serializer):
    application = serializers.IntegerField()
    state = serializers.ChoiceField(choices=Application.State.choices)
    state_label = serializers.CharField()
    district = serializers.CharField(allow_null=True)
    domain = serializers.CharField(allow_null=True)
    invite_url = serializers.CharField(
        allow_null=True, help_text="The district administrator's one-time link (valid 72 h) while it is unused: "
                                   "pass it to the administrator, who sets a password with it.")
    run = RunSerializer(allow_null=True)


def _input(request, *, partial: bool) -> tuple[dict, object, bool, bool]:
    data = ApplicationInputSerializer(data=request.data, partial=partial)
    data.is_valid(raise_exception=True)
    values = dict(data.validated_data)
    logo = values.pop("logo", None)
    clear_logo = values.pop("clear_logo", False)
    submit = values.pop("submit", False)
    return values, logo, clear_logo, submit


def _own(request, application: Application) -> None:
    """Only the application's own vendor changes it (staff read it)."""
    if application.vendor_id not in vendor_ids(request.user):
        raise NotAllowed(_("Only the vendor that filed this application can change it."))


def _progress(application: Application) -> dict:
    english = (get_language() or "").startswith("en")
    return ProgressSerializer(selectors.progress(application, english=english)).data


class ApplicationsMixin:
    permission_classes = [ANYONE]
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def get_queryset(self):
        return selectors.applications_for(self.request.user)

    def application(self, pk: int) -> Application:
        return get_object_or_404(self.get_queryset(), pk=pk)


class ApplicationList(ApplicationsMixin, generics.ListCreateAPIView):
    """Applications the caller may see: a vendor's own; every one for platform staff (``state=submitted``
    and ``state=resubmitted`` is the review queue). POST: a vendor files one (a draft, or submitted with
    ``submit``)."""

    serializer_class = ApplicationSerializer
    filterset_fields = ["state"]
    ordering_fields = ["created_at", "submitted_at", "slug"]

    @extend_schema(request=ApplicationInputSerializer, responses={201: ApplicationSerializer})
    def post(self, request):
        values, logo, _clear, submit = _input(request, partial=False)
        vendor = services.vendor_for(request.user, values.pop("vendor", None))
        application = services.create_application(actor=request.user, vendor=vendor, data=values, logo=logo,
                                                   submit=submit)
        return Response(ApplicationSerializer(application).data, status=201)


class ApplicationDetail(ApplicationsMixin, generics.RetrieveAPIView):
    """One application. PATCH: its vendor changes fields while it is a draft or sent back."""

    serializer_class = ApplicationSerializer

    @extend_schema(request=ApplicationInputSerializer, responses={200: ApplicationSerializer})
    def patch(self, request, pk: int):
        application = self.application(pk)
        _own(request, application)
        values, logo, clear_logo, _submit = _input(request, partial=True)
        values.pop("vendor", None)
        application = services.update_application(actor=request.user, application=application, data=values,
                                                   logo=logo, clear_logo=clear_logo)
        return Response(ApplicationSerializer(application).data)


class ApplicationSubmit(ApplicationsMixin, generics.GenericAPIView):
    """Submit a draft (or resubmit one sent back) for review: the agreement must be accepted."""

    serializer_class = ApplicationSerializer

    @extend_schema(request=None, responses={200: ApplicationSerializer})
    def post(self, request, pk: int):
        application = self.application(pk)
        _own(request, application)
        application = services.submit_application(actor=request.user, application=application)
        return Response(ApplicationSerializer(application).data)


class ApplicationWithdraw(ApplicationsMixin, generics.GenericAPIView):
    """Withdraw an application not yet approved: its name and address are free again."""

    serializer_class = ApplicationSerializer

    @extend_schema(request=None, responses={200: ApplicationSerializer})
    def post(self, request, pk: int):
        application = self.application(pk)
        _own(request, application)
        application = services.withdraw_application(actor=request.user, application=application)
        return Response(ApplicationSerializer(application).data)


class CommentList(ApplicationsMixin, generics.ListCreateAPIView):
    """The review thread of an application: staff comments and the vendor's answers."""

    serializer_class = CommentSerializer
    parser_classes = [JSONParser, FormParser]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator
            return Comment.objects.none()
        application = get_object_or_404(selectors.applications_for(self.request.user), pk=self.kwargs["pk"])
        return application.comments.select_related("author").order_by("created_at", "id")

    @extend_schema(request=CommentInputSerializer, responses={201: CommentSerializer})
    def post(self, request, pk: int):
        application = get_object_or_404(selectors.applications_for(request.user), pk=pk)
        data = CommentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        staff = has_platform_role(request.user, OPS)
        if not staff:
            _own(request, application)
        comment = services.add_comment(actor=request.user, application=application, body=data.validated_data["body"],
                                       kind=Comment.Kind.STAFF if staff else Comment.Kind.VENDOR)
        return Response(CommentSerializer(comment).data, status=201)


class ApplicationApprove(ApplicationsMixin, generics.GenericAPIView):
    """Approve (platform staff, with a reason): provisioning is recorded and queued at once."""

    permission_classes = [STAFF]
    serializer_class = ReasonSerializer

    @extend_schema(request=ReasonSerializer, responses={202: ProgressSerializer})
    def post(self, request, pk: int):
        application = self.application(pk)
        data = ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.approve_application(actor=request.user, application=application, reason=data.validated_data["reason"])
        return Response(_progress(Application.objects.get(pk=application.pk)), status=202)


class ApplicationReturn(ApplicationsMixin, generics.GenericAPIView):
    """Send an application back to its vendor with what to change (platform staff)."""

    permission_classes = [STAFF]
    serializer_class = ReturnSerializer

    @extend_schema(request=ReturnSerializer, responses={200: ApplicationSerializer})
    def post(self, request, pk: int):
        application = self.application(pk)
        data = ReturnSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        application = services.return_application(actor=request.user, application=application,
                                                   comment=data.validated_data["comment"])
        return Response(ApplicationSerializer(application).data)


class ApplicationProgress(ApplicationsMixin, generics.GenericAPIView):
    """The provisioning of an application, step by step (poll it every second or two)."""

    serializer_class = ProgressSerializer

    def get(self, request, pk: int):
        return Response(_progress(self.application(pk)))


class ApplicationRetry(ApplicationsMixin, generics.GenericAPIView):
    """Retry the failed provisioning run of an application (platform staff): done steps are skipped."""

    permission_classes = [STAFF]
    serializer_class = ReasonSerializer

    @extend_schema(request=ReasonSerializer, responses={202: ProgressSerializer})
    def post(self, request, pk: int):
        from kernel.errors import Conflict

        application = self.application(pk)
        data = ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        run = selectors.latest_run(application)
        if run is None:
            raise Conflict(_("This application has no provisioning run."), code="no_run")
        services.retry_run(actor=request.user, run=run, reason=data.validated_data["reason"])
        return Response(_progress(application), status=202)
