"""The cases API: thin views over services and selectors. Errors come out in the one error shape."""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import prefetch_related_objects
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from kernel import idempotency
from kernel.cache import forget, kept_list
from kernel.db.precompiled import Precompiled, ids_param
from kernel.errors import DomainError, NotAllowed
from kernel.permissions import has_role
from kernel.roles import STAFF_ROLES, Role
from kernel.serializers import BoundOnce
from modules.cases import selectors, services
from modules.cases.attachments_api import AttachmentSerializer
from modules.cases.models import Case, CaseParticipant, Category, OwnerLevel

LIST_RELATED = ("category", "street", "community", "grid", "assignee", "rlist", "parent", "follow_up_of")
# What CaseSerializer reads of the joined rows. A list used to select every column of nine joined
# tables (the parent and follow-up cases whole, the reporter's user row): compiling that select and
# building its objects was most of a case list's Python time (bench/load_endpoints.py).
LIST_COLUMNS = ("category__code", "category__name_zh", "street__code", "community__code", "grid__code",
                "assignee__username", "rlist__version", "parent__ref", "follow_up_of__ref")


def _for_list(qs):
    """The joined read of ``cases_by_id``: every column of the case, of the joined rows only what
    CaseSerializer reads (and the detail's allowed actions: the community's code)."""
    return (qs.select_related(None).select_related(*LIST_RELATED)
            .only(*(f.name for f in Case._meta.concrete_fields), *LIST_COLUMNS))


# Cases by id with their joined names: compiled once per process (kernel.db.precompiled), planned in
# written order (kernel.db.joins_as_written: as one query with the visibility rule, PostgreSQL took
# 30–50 ms to plan every order of eight LEFT JOINs, and under 1 ms to run it).
CASES_BY_ID = Precompiled(lambda: _for_list(Case.objects.filter(ids_param(Case))), joins_as_written=True)


def cases_by_id(ids: list[int]) -> list[Case]:
    """The cases of ``ids`` (joined as lists show them), in the order of ``ids``; ids not found are left out."""
    rows = {case.pk: case for case in CASES_BY_ID.fetch(ids)} if ids else {}
    return [rows[pk] for pk in ids if pk in rows]


class PageThenJoin:
    """A case list in two steps: the page's ids (the visibility rule, filters, order and page on the
    cases alone: about 1 ms to plan), then those rows with their joined names (``cases_by_id``)."""

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset.values_list("pk", flat=True))
        return cases_by_id(list(page if page is not None else queryset.values_list("pk", flat=True)))

    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        data = self.get_serializer(page, many=True).data
        return self.get_paginated_response(data) if self.paginator is not None else Response(data)


def _actor(request):
    return request.user if request.user.is_authenticated else None


class CaseSerializer(BoundOnce):
    """Declared field by field (not a ModelSerializer): intake answers with it, and building a
    ModelSerializer's fields costs more than the case's whole SQL."""

    id = serializers.IntegerField()
    ref = serializers.CharField()
    channel = serializers.CharField()
    category = serializers.CharField(source="category.code")
    category_name = serializers.CharField(source="category.name_zh")
    title = serializers.CharField()
    description = serializers.CharField()
    status = serializers.CharField()
    street = serializers.CharField(source="street.code", default=None, allow_null=True)
    community = serializers.CharField(source="community.code", default=None, allow_null=True)
    grid = serializers.CharField(source="grid.code", default=None, allow_null=True)
    household = serializers.IntegerField(source="household_id", allow_null=True)
    compound = serializers.IntegerField(source="compound_id", allow_null=True)
    merchant = serializers.IntegerField(source="merchant_id", allow_null=True)
    address = serializers.CharField()
    media_url = serializers.CharField(help_text="a link to a photo the reporter gave elsewhere (Open311); not fetched")
    latitude = serializers.DecimalField(max_digits=9, decimal_places=6, allow_null=True)
    longitude = serializers.DecimalField(max_digits=9, decimal_places=6, allow_null=True)
    reporter_contact = serializers.CharField(
        source="reporter_contact_masked", help_text=(
            "the phone an anonymous reporter left, masked (139****5678); a case's detail shows it whole "
            "to the case's handler"))
    external_id = serializers.CharField()
    assign_mode = serializers.CharField()
    assignee = serializers.CharField(source="assignee.username", default=None, allow_null=True)
    responsible_kind = serializers.CharField()
    responsible_code = serializers.CharField()
    rlist_version = serializers.IntegerField(source="rlist.version", default=None, allow_null=True)
    submitted_at = serializers.DateTimeField()
    response_due = serializers.DateTimeField()
    resolution_due = serializers.DateTimeField()
    responded_at = serializers.DateTimeField(allow_null=True)
    resolved_at = serializers.DateTimeField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)
    escalation_level = serializers.IntegerField()
    owner_level = serializers.SerializerMethodField()
    parent = serializers.CharField(source="parent.ref", default=None, allow_null=True)
    follow_up_of = serializers.CharField(source="follow_up_of.ref", default=None, allow_null=True)
    reject_reason = serializers.CharField()
    rating = serializers.IntegerField(allow_null=True)
    result = serializers.CharField()
    reopen_count = serializers.IntegerField()

    def get_owner_level(self, obj) -> str:
        return OwnerLevel(obj.owner_level).name.lower()


class EventSerializer(BoundOnce):
    at = serializers.DateTimeField()
    actor = serializers.CharField(source="actor.username", default=None, allow_null=True)
    kind = serializers.CharField()
    from_status = serializers.CharField()
    to_status = serializers.CharField()
    note = serializers.CharField()
    data = serializers.JSONField()


class ParticipantSerializer(serializers.ModelSerializer):
    user = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = CaseParticipant
        fields = ["kind", "user", "department_code", "added_at"]


REPORTER_CONTACT_DETAIL = (
    "the phone an anonymous reporter left: whole (13912345678) for the case's handler (its assignee or "
    "who supervises it), and that view is recorded as access to personal data; masked (139****5678) for "
    "everyone else; empty when none was left")


class CaseDetailSerializer(CaseSerializer):
    reporter_contact = serializers.SerializerMethodField()
    timeline = serializers.SerializerMethodField()
    actions = serializers.SerializerMethodField()
    participants = ParticipantSerializer(many=True, read_only=True)
    attachments = AttachmentSerializer(many=True, read_only=True)

    @extend_schema_field(serializers.CharField(help_text=REPORTER_CONTACT_DETAIL))
    def get_reporter_contact(self, obj) -> str:
        """The one rule (services.reporter_contact), which records the handler's view."""
        request = self.context.get("request")
        return services.reporter_contact(actor=request.user if request else None, case=obj)[0]

    @extend_schema_field(EventSerializer(many=True))
    def get_timeline(self, obj) -> list[dict]:
        return EventSerializer(selectors.timeline(obj), many=True).data

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(
        choices=sorted(services.ACTION_STATUSES)), help_text="staff steps the caller may take now (POST <id>/<step>/)"))
    def get_actions(self, obj) -> list[str]:
        request = self.context.get("request")
        return sorted(services.allowed_actions(request.user, obj)) if request else []


class SubmitSerializer(serializers.Serializer):
    channel = serializers.ChoiceField(choices=Case.Channel.choices, default=Case.Channel.SNAP)
    category = serializers.CharField(max_length=40, help_text="category code (GET /api/v1/cases/categories/)")
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    household = serializers.IntegerField(required=False, allow_null=True)
    compound = serializers.CharField(required=False, allow_blank=True, help_text="compound code")
    grid = serializers.CharField(required=False, allow_blank=True, help_text="grid code")
    community = serializers.CharField(required=False, allow_blank=True, help_text="community code")
    street = serializers.CharField(required=False, allow_blank=True, help_text="street code (suggestions)")
    merchant = serializers.IntegerField(required=False, allow_null=True, help_text="merchant requests: your shop")
    address = serializers.CharField(required=False, allow_blank=True, max_length=400, default="")
    latitude = serializers.DecimalField(max_digits=9, decimal_places=6, required=False, allow_null=True,
                                        min_value=-90, max_value=90)
    longitude = serializers.DecimalField(max_digits=9, decimal_places=6, required=False, allow_null=True,
                                         min_value=-180, max_value=180)
    contact = serializers.CharField(required=False, allow_blank=True, max_length=32)
    idempotency_key = serializers.CharField(required=False, allow_blank=True, max_length=idempotency.KEY_MAX,
                                            help_text=f"or the Idempotency-Key header. {idempotency.RULE}")

    def places(self) -> dict:
        from modules.registry.models import Community, Compound, Grid, Household, Merchant, Street

        data, out = self.validated_data, {}
        for name, model, field in (("household", Household, "pk"), ("compound", Compound, "code"),
                                   ("grid", Grid, "code"), ("community", Community, "code"),
                                   ("street", Street, "code"), ("merchant", Merchant, "pk")):
            value = data.get(name)
            if value in (None, ""):
                continue
            related = {"household": ("grid__community__street", "grid__worker", "building__compound"),
                       "compound": ("grid__community__street", "grid__worker"),
                       "grid": ("community__street", "worker"), "community": ("street",), "street": (),
                       "merchant": ("grid__community__street", "grid__worker")}[name]
            obj = model.objects.filter(**{field: value}).select_related(*related).first()
            if obj is None:
                raise DomainError(f"Unknown {name}.", fields={name: ["Not found."]})
            out[name] = obj
        return out


class SubmitOrReadPermission(BasePermission):
    """Anyone may submit (the service refuses anonymous reports where the district turned them off);
    reading lists needs a signed-in user."""

    def has_permission(self, request, view):
        return request.method == "POST" or bool(request.user and request.user.is_authenticated)


class CaseList(PageThenJoin, generics.ListAPIView):
    serializer_class = CaseSerializer
    permission_classes = [SubmitOrReadPermission]
    filterset_fields = ["status", "channel", "category__code", "grid__code", "community__code"]
    ordering_fields = ["submitted_at", "resolution_due", "id"]

    def get_queryset(self):  # the page's ids are read from it; the rows by cases_by_id (PageThenJoin)
        return selectors.cases_for(self.request.user)

    @extend_schema(summary="Submit a case", request=SubmitSerializer, parameters=[idempotency.openapi_parameter()],
                   responses={201: CaseSerializer, 200: CaseSerializer})
    def post(self, request):
        key = idempotency.key_from(request, request.data)  # 400 for a bad key, before the body's checks
        data = SubmitSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = {k: v for k, v in data.validated_data.items()
                  if k not in {"household", "compound", "grid", "community", "street", "merchant"}}
        values["idempotency_key"] = key
        places = data.places()
        files = request.FILES.getlist("files") if hasattr(request, "FILES") else []
        case = services.submit_case_with_files(actor=_actor(request), files=files, **values, **places)
        return Response(CaseSerializer(case).data, status=status.HTTP_201_CREATED if idempotency.created(case) else 200)


class CaseDetail(generics.RetrieveAPIView):
    serializer_class = CaseDetailSerializer

    def get_queryset(self):
        return selectors.cases_for(self.request.user)

    def get_object(self):
        """The visibility rule on the case alone (its id, or 404), then the case with its joined rows
        (``cases_by_id``), its participants and files."""
        visible = self.get_queryset().filter(pk=self.kwargs["pk"]).values_list("pk", flat=True)
        found = cases_by_id(list(visible[:1]))
        if not found:
            raise Http404
        prefetch_related_objects(found, "participants__user", "attachments__uploaded_by")
        self.check_object_permissions(self.request, found[0])
        return found[0]


class Pool(PageThenJoin, generics.ListAPIView):
    """Cases in the pool the signed-in grid worker may grab."""

    serializer_class = CaseSerializer
    filterset_fields = ["category__code", "grid__code"]

    def get_queryset(self):  # the page's ids are read from it; the rows by cases_by_id (PageThenJoin)
        return selectors.pool_for(self.request.user)


class ActionSerializer(serializers.Serializer):
    result = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    verified = serializers.BooleanField(required=False, default=True)
    rating = serializers.IntegerField(required=False, min_value=1, max_value=5)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")
    reason = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")
    unit_kind = serializers.CharField(required=False, allow_blank=True)
    unit_code = serializers.CharField(required=False, allow_blank=True)
    parent = serializers.CharField(required=False, allow_blank=True, help_text="ref or id of the parent case")
    kind = serializers.ChoiceField(choices=CaseParticipant.Kind.choices, required=False)
    username = serializers.CharField(required=False, allow_blank=True)
    department_code = serializers.CharField(required=False, allow_blank=True, default="")


def _parent(user, value: str) -> Case | None:
    if not value:
        return None
    qs = selectors.cases_for(user)
    case = qs.filter(ref=value).first() or (qs.filter(pk=int(value)).first() if value.isdigit() else None)
    if case is None:
        raise DomainError("Unknown parent case.", fields={"parent": ["Not found."]})
    return case


ACTIONS = {
    "grab": lambda u, c, d: services.grab_case(actor=u, case=c),
    "accept": lambda u, c, d: services.accept_case(actor=u, case=c),
    "start": lambda u, c, d: services.start_case(actor=u, case=c),
    "resolve": lambda u, c, d: services.resolve_case(actor=u, case=c, result=d.get("result", ""),
                                                     verified=d.get("verified", True)),
    "confirm": lambda u, c, d: services.confirm_and_rate(actor=u, case=c, rating=d.get("rating"),
                                                         comment=d.get("comment", "")),
    "reopen": lambda u, c, d: services.reopen_case(actor=u, case=c, reason=d.get("reason", "")),
    "transfer": lambda u, c, d: services.transfer_case(actor=u, case=c, unit_kind=d.get("unit_kind", ""),
                                                       unit_code=d.get("unit_code", ""), reason=d.get("reason", "")),
    "reject": lambda u, c, d: services.reject_case(actor=u, case=c, reason=d.get("reason", ""),
                                                   note=d.get("note", ""), parent=_parent(u, d.get("parent", ""))),
    "link-duplicate": lambda u, c, d: services.link_duplicate(actor=u, case=c, parent=_parent(u, d.get("parent", ""))
                                                              or _missing("parent")),
    "participants": lambda u, c, d: services.add_participant(
        actor=u, case=c, kind=d.get("kind", ""), department_code=d.get("department_code", ""),
        user=get_user_model().objects.filter(username=d.get("username") or None).first()) and c,
}


def _missing(field: str):
    raise DomainError(f"{field} is required.", fields={field: ["Required."]})


class CaseAction(APIView):
    """POST /<id>/<action>/: grab, accept, start, resolve, confirm, reopen, transfer, reject,
    link-duplicate, participants. 409 when the case is not in a state that allows it."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=ActionSerializer, responses={200: CaseDetailSerializer}, operation_id="v1_cases_action",
                   parameters=[OpenApiParameter("action", str, OpenApiParameter.PATH, enum=sorted(ACTIONS))])
    def post(self, request, pk: int, action: str):
        if action not in ACTIONS:
            raise DomainError("Unknown action.", code="not_found", status=404)
        visible = selectors.cases_for(request.user)
        if action == "grab":
            visible = visible | selectors.pool_for(request.user)
        case = get_object_or_404(Case.objects.filter(pk__in=visible.values("pk")), pk=pk)
        data = ActionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ACTIONS[action](request.user, case, data.validated_data)
        case = Case.objects.select_related(*LIST_RELATED).get(pk=case.pk)
        return Response(CaseDetailSerializer(case, context={"request": request}).data)


class DuplicateSerializer(CaseSerializer):
    similarity = serializers.FloatField(help_text="0 to 1: how alike the two reports are")


class Duplicates(APIView):
    """Cases that may be the same problem (any channel), for the handler to link."""

    @extend_schema(responses={200: inline_serializer("DuplicateCandidates", {
        "results": DuplicateSerializer(many=True)})})
    def get(self, request, pk: int):
        case = get_object_or_404(selectors.cases_for(request.user), pk=pk)
        if not (case.assignee_id == request.user.pk or services.supervises(request.user, case)):
            raise NotAllowed("Only the case's handler or its supervisors look for duplicates.")
        visible = set(selectors.cases_for(request.user).values_list("pk", flat=True))
        found = [(c, score) for c, score in selectors.duplicate_candidates(case) if c.pk in visible]
        return Response({"results": [CaseSerializer(c).data | {"similarity": score} for c, score in found]})


class CategorySerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["code", "name_zh", "name_en", "assign_mode"]


class Categories(generics.ListAPIView):
    """The district's active case categories: what ``category`` of a submission may be."""

    serializer_class = CategorySerializer
    permission_classes = [AllowAny]
    filterset_fields = ["assign_mode"]
    ordering_fields = ["code"]

    def get_queryset(self):
        return Category.objects.filter(active=True).order_by("code")

    def list(self, request, *args, **kwargs):
        """The same for every caller of a district: kept (kernel.cache.kept_list), dropped whenever a
        category is saved or deleted (modules.cases.apps)."""
        return kept_list(CATEGORIES_KEY, request, lambda: super(Categories, self).list(request, *args, **kwargs),
                         seconds=CATEGORIES_SECONDS)


CATEGORIES_KEY = "cases:categories"
CATEGORIES_SECONDS = 60


def forget_categories(**kwargs) -> None:
    forget(CATEGORIES_KEY)


class Figures(APIView):
    """Reply and resolution rates, median times, overdue count and workload, per grid / worker /
    department, over the cases the caller may see."""

    @extend_schema(parameters=[OpenApiParameter("by", enum=["grid", "worker", "department"], default="grid")],
                   responses={200: inline_serializer("CaseFigures", {
                       "by": serializers.CharField(),
                       "results": serializers.ListField(child=serializers.DictField())})})
    def get(self, request):
        if not has_role(request.user, *STAFF_ROLES, Role.OFFICIAL):
            raise NotAllowed("Figures are for staff.")
        by = request.query_params.get("by", "grid")
        if by not in {"grid", "worker", "department"}:
            raise DomainError("by is grid, worker or department.", fields={"by": ["Unknown."]})
        return Response({"by": by, "results": selectors.figures(by=by, cases=selectors.cases_for(request.user))})


__all__ = ["CaseAction", "CaseDetail", "CaseList", "Figures", "Pool"]
