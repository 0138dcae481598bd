"""The points API under /api/v1/points/ — thin views over services and selectors; the services check
role and scope and raise domain errors, which come out in the one error shape (4xx with a message).

Reads:   me/, rules/, rules/<code>/ (with its versions), ranking/, entries/ (staff, within scope),
         proposals/, appeals/, batches/ (with progress).
Writes:  rules/ (create), rules/<code>/revise/; entries/ (post; idempotent), entries/<id>/reverse/;
         proposals/ (propose), proposals/<id>/approve|reject|withdraw/; appeals/ (file),
         appeals/<id>/uphold|refuse/; batches/ (JSON lists or a spreadsheet of ID numbers),
         batches/<id>/retry/.
A POST that creates answers 201; the same request again (same idempotency key, or a revision that
changes nothing) answers 200 with what was made the first time."""
from __future__ import annotations

import django_filters
from django.db.models import Count, Exists, OuterRef, Q
from django.shortcuts import get_object_or_404
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
    inline_serializer,
)
from rest_framework import generics, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from kernel import idempotency
from kernel.errors import DomainError
from kernel.filters import query_bool, query_choice, query_int
from kernel.permissions import HasRole, in_scope
from kernel.roles import Role, ScopeKind
from kernel.selectors import roles_of
from modules.points import batch_files, batches, selectors, services
from modules.points.models import (
    Appeal,
    AutoSource,
    BalanceKind,
    Batch,
    BatchTarget,
    CapPeriod,
    CompoundScore,
    Direction,
    Entry,
    Origin,
    Proposal,
    Rule,
    RuleVersion,
    SourceKind,
    Vote,
)
from modules.registry.models import Resident
from modules.registry.selectors import RESIDENT_SCOPE

Staff = HasRole(*services.POSTER_ROLES)
DECIDERS = (Role.COMMITTEE_MEMBER, Role.DISTRICT_ADMIN)
IDEMPOTENCY_HEADER = idempotency.openapi_parameter("The same as the idempotency_key field.")
IDEMPOTENCY_HEADER_ONLY = idempotency.openapi_parameter()

_enum_fields: dict[tuple, type] = {}


def enum_field(choices, **kwargs) -> serializers.CharField:
    """A text field documented with its values (the services check them)."""
    values = tuple(c[0] if isinstance(c, tuple | list) else c for c in choices)
    cls = _enum_fields.get(values)
    if cls is None:
        cls = extend_schema_field({"type": "string", "enum": list(values)})(
            type("PointsEnumText", (serializers.CharField,), {}))
        _enum_fields[values] = cls
    return cls(**kwargs)


def values_field(choices, help_text: str = "", **kwargs) -> serializers.CharField:
    """For ``kind``, ``status`` and ``decision``: the values in the description rather than as an enum,
    since other modules use the same names for other choice sets (enum components would clash)."""
    values = " | ".join(str(c[0] if isinstance(c, tuple | list) else c) for c in choices)
    return serializers.CharField(help_text=f"{values}. {help_text}".strip(), **kwargs)


def _int(request, name: str, default: int, low: int, high: int) -> int:
    return query_int(request, name, default, low, high)  # out of range is 400, not quietly clamped


def _resident(pk) -> Resident:
    resident = Resident.objects.filter(pk=pk).first() if pk is not None else None
    if resident is None:
        raise DomainError(_("There is no registered resident %(id)s.") % {"id": pk}, code="unknown_resident",
                          fields={"resident": [_("Not found.")]})
    return resident


def _key(request, data: dict) -> str | None:
    return idempotency.key_from(request, data)


def _evidence_file(upload):
    """The pages' check: a photo (re-encoded, without location or camera data) or a PDF, ≤ 10 MB."""
    from modules.points.forms_staff import evidence_file

    return evidence_file(upload)


def _evidence_url(kind: str, obj) -> str | None:
    """Where the evidence file is read: the staff page that checks who may see it (never the media
    address of the file)."""
    if not obj.evidence_file:
        return None
    try:
        return reverse("points:staff-evidence", kwargs={"kind": kind, "pk": obj.pk})
    except NoReverseMatch:
        return None


def _fake(view) -> bool:
    return getattr(view, "swagger_fake_view", False)  # the schema generator has no user


# --- scope: which residents a user's roles cover --------------------------------------------------------

def _inside(user, roles):
    """None when the user holds one of ``roles`` district-wide; else a subquery of the ids of the
    residents inside their scopes for those roles (the services check each write the same way)."""
    if any(a.role in roles and a.scope_kind == ScopeKind.DISTRICT for a in roles_of(user)):
        return None
    return in_scope(user, Resident.objects.all(), roles=roles, fields=RESIDENT_SCOPE).values("pk")


def _all_targets_inside(inside, batch_ref: str = "pk"):
    """A condition on batches (or on proposals through ``batch``): nobody listed lives outside."""
    return ~Exists(BatchTarget.objects.filter(batch_id=OuterRef(batch_ref)).exclude(resident_id__in=inside))


def entries_for(user):
    qs = Entry.objects.select_related("resident", "rule", "rule_version", "posted_by", "approved_by").annotate(
        reversed=Exists(Entry.objects.filter(reverses_id=OuterRef("pk"))))
    inside = _inside(user, services.POSTER_ROLES)
    return qs if inside is None else qs.filter(resident_id__in=inside)


def proposals_for(user):
    qs = Proposal.objects.select_related("rule", "rule_version", "resident", "batch", "proposed_by").annotate(
        approvals=Count("votes", filter=Q(votes__decision=Vote.Decision.APPROVE)))
    inside = _inside(user, services.POSTER_ROLES)
    if inside is None:
        return qs
    return qs.filter(Q(proposed_by=user) | Q(kind=Proposal.Kind.SINGLE, resident_id__in=inside)
                     | (Q(kind=Proposal.Kind.BATCH) & _all_targets_inside(inside, "batch_id")))


def batches_for(user):
    qs = Batch.objects.select_related("rule", "rule_version", "created_by", "approved_by", "proposal")
    inside = _inside(user, services.POSTER_ROLES)
    if inside is None:
        return qs
    return qs.filter(Q(created_by=user) | _all_targets_inside(inside))


def appeals_for(user):
    """Residents: their own appeals. Committee members and the administrator: the appeals of the
    residents in their area."""
    qs = Appeal.objects.select_related("entry__rule_version", "entry__rule", "resident", "filed_by").annotate(
        upheld_votes=Count("votes", filter=Q(votes__decision=Vote.Decision.APPROVE)))
    own = Q(filed_by=user)
    me = services.resident_of(user)
    if me is not None:
        own |= Q(resident_id=me.pk)
    if not any(a.role in DECIDERS for a in roles_of(user)):
        return qs.filter(own)
    inside = _inside(user, DECIDERS)
    return qs if inside is None else qs.filter(own | Q(resident_id__in=inside))


def _deciders_see_votes(user) -> bool:
    return any(a.role in (*DECIDERS, *services.POSTER_ROLES) for a in roles_of(user))


# --- a resident's own points (read) ------------------------------------------------------------------------

@extend_schema_serializer(component_name="PointsHistoryEntry")
class EntrySerializer(serializers.Serializer):
    """One entry of a resident's history (documentation of the rows ``selectors.history_rows`` gives)."""

    id = serializers.IntegerField()
    posted_at = serializers.DateTimeField()
    occurred_on = serializers.DateField()
    kind = values_field(BalanceKind.choices)
    points = serializers.IntegerField(help_text="signed")
    reason = serializers.CharField()
    evidence = serializers.CharField()
    rule = serializers.CharField(help_text="rule code")
    rule_name = serializers.CharField()
    rule_name_en = serializers.CharField()
    rule_version = serializers.IntegerField(help_text="the version it was posted under")
    source_kind = serializers.CharField()
    source_id = serializers.IntegerField(allow_null=True)
    posted_by = serializers.CharField(allow_null=True, help_text="empty: the platform")
    approved_by = serializers.CharField(allow_null=True)
    reverses = serializers.IntegerField(allow_null=True, help_text="the entry this one corrects")
    reversed = serializers.BooleanField(help_text="corrected since by a reversing entry")


@extend_schema_serializer(component_name="PointsTier")
class TierSerializer(serializers.Serializer):
    key = serializers.CharField()
    name_zh = serializers.CharField()
    name_en = serializers.CharField(required=False)
    min_points = serializers.IntegerField()


@extend_schema_serializer(component_name="PointsMe")
class MeSerializer(serializers.Serializer):
    resident = serializers.DictField()
    balances = serializers.DictField(child=serializers.IntegerField())
    tier = TierSerializer(allow_null=True)
    next_tier = TierSerializer(allow_null=True)
    count = serializers.IntegerField()
    page = serializers.IntegerField()
    page_size = serializers.IntegerField()
    history = EntrySerializer(many=True)


class Me(APIView):
    """The signed-in resident's balances, honour tier and history (newest first), each entry with
    its rule, reason, evidence, source and approver."""

    permission_classes = [IsAuthenticated]
    error_statuses = [404]  # not a registered resident

    @extend_schema(responses={200: MeSerializer},
                   parameters=[OpenApiParameter("page", {"type": "integer", "minimum": 1, "maximum": 100_000}),
                               OpenApiParameter("page_size", {"type": "integer", "minimum": 1, "maximum": 200}),
                               OpenApiParameter("kind", enum=BalanceKind.values)])
    def get(self, request):
        resident = services.resident_of(request.user)
        if resident is None:
            raise DomainError(_("Your account is not linked to a registered resident yet: bind your household first."),
                              code="no_resident", status=404)
        kind = query_choice(request, "kind", BalanceKind.values)
        page = _int(request, "page", 1, 1, 100_000)
        size = _int(request, "page_size", 20, 1, 200)
        s = selectors.summary(resident, limit=size, offset=(page - 1) * size, kind=kind)
        return Response({
            "resident": {"id": resident.pk, "name": resident.name},
            "balances": s.balances, "tier": s.tier, "next_tier": s.next_tier,
            "count": s.total_entries, "page": page, "page_size": size, "history": s.entries,
        })


# --- the rulebook ---------------------------------------------------------------------------------------

@extend_schema_serializer(component_name="PointsRule")
class RuleSerializer(serializers.ModelSerializer):
    code = serializers.CharField(source="rule.code")
    direction = enum_field(Direction.choices)
    kind = values_field(BalanceKind.choices)
    cap_period = enum_field(CapPeriod.choices + [("", "")])
    origin = enum_field(Origin.choices)
    auto_source = enum_field(AutoSource.choices)

    class Meta:
        model = RuleVersion
        fields = ["code", "version", "name_zh", "name_en", "description", "direction", "kind", "category",
                  "min_points", "max_points", "default_points", "evidence_required", "committee_required",
                  "cap_period", "cap_count", "cap_points", "effective_from", "effective_to", "origin", "origin_note",
                  "auto_source", "auto_categories"]
        read_only_fields = fields


@extend_schema_serializer(component_name="PointsRuleVersion")
class RuleVersionSerializer(RuleSerializer):
    created_by = serializers.CharField(source="created_by.username", default=None, allow_null=True)

    class Meta(RuleSerializer.Meta):
        fields = [*RuleSerializer.Meta.fields, "is_current", "created_at", "created_by", "note"]
        read_only_fields = fields


@extend_schema_serializer(component_name="PointsRuleDetail")
class RuleDetailSerializer(serializers.Serializer):
    code = serializers.CharField()
    current = RuleVersionSerializer()
    versions = RuleVersionSerializer(many=True, help_text="every version, newest first")


class RuleWriteSerializer(serializers.Serializer):
    """The fields of a rule version. Point values are magnitudes (≥ 1); ``direction`` gives the sign.
    The service checks them together (range, caps, dates, automatic sources) and names what is wrong."""

    name_zh = serializers.CharField(max_length=80)
    name_en = serializers.CharField(max_length=120, required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True)
    direction = enum_field(Direction.choices)
    kind = values_field(BalanceKind.choices, required=False)
    category = serializers.CharField(max_length=40)
    min_points = serializers.IntegerField()
    max_points = serializers.IntegerField()
    default_points = serializers.IntegerField(required=False, allow_null=True,
                                              help_text="empty: the minimum")
    evidence_required = serializers.BooleanField(required=False)
    committee_required = serializers.BooleanField(required=False)
    cap_period = enum_field(CapPeriod.choices + [("", "")], required=False, allow_blank=True)
    cap_count = serializers.IntegerField(required=False, allow_null=True, help_text="postings per person per period")
    cap_points = serializers.IntegerField(required=False, allow_null=True, help_text="points per person per period")
    effective_from = serializers.DateField(required=False, allow_null=True)
    effective_to = serializers.DateField(required=False, allow_null=True, help_text="last day the rule applies")
    origin = enum_field(Origin.choices, required=False)
    origin_note = serializers.CharField(max_length=300, required=False, allow_blank=True)
    auto_source = enum_field(AutoSource.choices, required=False, allow_blank=True)
    auto_categories = serializers.ListField(child=serializers.CharField(), required=False)
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="",
                                 help_text="why (kept with the version)")


@extend_schema_serializer(component_name="PointsRuleCreate")
class RuleCreateSerializer(RuleWriteSerializer):
    code = serializers.CharField(max_length=40, help_text="letters, digits and _; never changes")


@extend_schema_serializer(component_name="PointsRuleRevise")
class RuleReviseSerializer(RuleWriteSerializer):
    """Only the fields given change; the others are taken from the current version."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, f in self.fields.items():
            if name != "note":
                f.required = False


def _rule_detail(code: str) -> dict:
    versions = list(selectors.rule_history(code).select_related("rule", "created_by"))
    if not versions:
        raise DomainError(_("There is no rule %(code)s in this district's rulebook.") % {"code": code},
                          code="not_found", status=404)
    current = next((v for v in versions if v.is_current), versions[0])
    return {"code": code, "current": RuleVersionSerializer(current).data,
            "versions": RuleVersionSerializer(versions, many=True).data}


class Rules(generics.ListAPIView):
    """GET: the district's rulebook: the current version of each rule in force today (``all=1``: every
    rule, in force or not). POST: a new rule (the district administrator)."""

    serializer_class = RuleSerializer
    permission_classes = [IsAuthenticated]

    @extend_schema(parameters=[OpenApiParameter("direction", enum=Direction.values), OpenApiParameter("category"),
                               OpenApiParameter("all", bool)])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        params = self.request.query_params
        qs = selectors.rules_in_force(include_all=query_bool(self.request, "all"))
        if query_choice(self.request, "direction", Direction.values):
            qs = qs.filter(direction=params["direction"])
        if params.get("category"):
            qs = qs.filter(category=params["category"])
        return qs

    @extend_schema(summary="Add a rule (district administrator)", request=RuleCreateSerializer,
                   responses={201: RuleDetailSerializer})
    def post(self, request):
        data = RuleCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        version = services.create_rule(actor=request.user, **values)
        return Response(_rule_detail(version.rule.code), status=status.HTTP_201_CREATED)


class RuleDetail(APIView):
    """A rule with every version (newest first): what it said when, who changed it and why."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: RuleDetailSerializer})
    def get(self, request, code: str):
        return Response(_rule_detail(code))


class RuleRevise(APIView):
    """A new version of the rule (the district administrator). Entries already posted keep the version
    they were posted under. 201 with the new version; 200 when nothing changed."""

    permission_classes = [IsAuthenticated]

    @extend_schema(summary="Revise a rule (new version)", request=RuleReviseSerializer,
                   responses={201: RuleDetailSerializer, 200: RuleDetailSerializer})
    def post(self, request, code: str):
        get_object_or_404(Rule, code=code)
        data = RuleReviseSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        note = changes.pop("note", "")
        before = services.current_version(code).pk
        version = services.revise_rule(actor=request.user, rule=code, note=note, **changes)
        changed = version.pk != before
        return Response(_rule_detail(code), status=status.HTTP_201_CREATED if changed else status.HTTP_200_OK)


# --- the ledger (staff) -------------------------------------------------------------------------------------

@extend_schema_serializer(component_name="PointsEntry")
class LedgerEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    resident = serializers.IntegerField(source="resident_id")
    resident_name = serializers.CharField(source="resident.name")
    posted_at = serializers.DateTimeField()
    occurred_on = serializers.DateField()
    kind = values_field(BalanceKind.choices)
    points = serializers.IntegerField(help_text="signed")
    reason = serializers.CharField()
    evidence = serializers.CharField()
    evidence_file = serializers.SerializerMethodField()
    rule = serializers.CharField(source="rule.code")
    rule_name = serializers.CharField(source="rule_version.name_zh")
    rule_version = serializers.IntegerField(source="rule_version.version")
    source_kind = enum_field(SourceKind.choices)
    source_id = serializers.IntegerField(allow_null=True)
    posted_by = serializers.CharField(source="posted_by.username", default=None, allow_null=True, help_text="empty: the platform")
    approved_by = serializers.CharField(source="approved_by.username", default=None, allow_null=True)
    reverses = serializers.IntegerField(source="reverses_id", allow_null=True)
    reversed = serializers.SerializerMethodField()

    def get_evidence_file(self, entry) -> str | None:
        return _evidence_url("entry", entry)

    def get_reversed(self, entry) -> bool:
        found = getattr(entry, "reversed", None)
        return bool(found) if found is not None else Entry.objects.filter(reverses_id=entry.pk).exists()


class EntryFilter(django_filters.FilterSet):
    resident = django_filters.NumberFilter(field_name="resident_id")
    rule = django_filters.CharFilter(field_name="rule__code", help_text="rule code")
    source_kind = django_filters.ChoiceFilter(choices=SourceKind.choices)
    source_id = django_filters.NumberFilter()
    kind = django_filters.ChoiceFilter(choices=BalanceKind.choices)
    occurred_from = django_filters.DateFilter(field_name="occurred_on", lookup_expr="gte",
                                              help_text="deed date on or after")
    occurred_to = django_filters.DateFilter(field_name="occurred_on", lookup_expr="lte",
                                            help_text="deed date on or before")
    posted_from = django_filters.DateFilter(field_name="posted_at", lookup_expr="date__gte")
    posted_to = django_filters.DateFilter(field_name="posted_at", lookup_expr="date__lte")

    class Meta:
        model = Entry
        fields = []


@extend_schema_serializer(component_name="PointsEntryPost")
class EntryPostSerializer(serializers.Serializer):
    resident = serializers.IntegerField(help_text="resident id")
    rule = serializers.CharField(help_text="rule code")
    points = serializers.IntegerField(help_text="signed: negative for a deduct rule")
    reason = serializers.CharField(max_length=500)
    occurred_on = serializers.DateField(required=False, allow_null=True, help_text="deed date; empty: today")
    evidence = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    evidence_file = serializers.FileField(required=False, allow_null=True, help_text="a photo (JPEG, PNG, WebP) or a PDF, ≤ 10 MB")
    idempotency_key = serializers.CharField(required=False, allow_blank=True, max_length=idempotency.KEY_MAX,
                                            help_text=f"or the Idempotency-Key header. {idempotency.RULE}")


@extend_schema_serializer(component_name="PointsReason")
class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


@extend_schema_serializer(component_name="PointsNote")
class NoteSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class Entries(generics.ListAPIView):
    """GET: entries of the residents in the caller's area (staff), newest first. POST: post points
    under a rule that needs no committee (staff, within their area, never their own)."""

    serializer_class = LedgerEntrySerializer
    permission_classes = [Staff]
    filterset_class = EntryFilter
    ordering_fields = ["id", "occurred_on", "posted_at", "points"]

    def get_queryset(self):
        if _fake(self):
            return Entry.objects.none()
        return entries_for(self.request.user).order_by("-id")

    @extend_schema(summary="Post points", request=EntryPostSerializer, parameters=[IDEMPOTENCY_HEADER],
                   responses={201: LedgerEntrySerializer, 200: LedgerEntrySerializer})
    def post(self, request):
        key = _key(request, request.data)  # 400 for a bad key, in the one shape, before the body's checks
        data = EntryPostSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        entry = services.post_entry(actor=request.user, resident=_resident(v["resident"]), rule=v["rule"],
                                    points=v["points"], reason=v["reason"], occurred_on=v.get("occurred_on"),
                                    evidence=v.get("evidence", ""),
                                    evidence_file=_evidence_file(v.get("evidence_file")),
                                    idempotency_key=key)
        created = idempotency.created(entry)
        entry = entries_for(request.user).filter(pk=entry.pk).first() or entry
        return Response(LedgerEntrySerializer(entry).data, status=status.HTTP_201_CREATED if created else 200)


class EntryDetail(generics.RetrieveAPIView):
    serializer_class = LedgerEntrySerializer
    permission_classes = [Staff]

    def get_queryset(self):
        if _fake(self):
            return Entry.objects.none()
        return entries_for(self.request.user)


class EntryReverse(APIView):
    """Correct an entry by posting its exact opposite (a committee member or the administrator who
    did not post or approve it). 201 with the reversing entry; 200 if it was reversed already."""

    permission_classes = [Staff]

    @extend_schema(summary="Reverse an entry", request=ReasonSerializer,
                   responses={201: LedgerEntrySerializer, 200: LedgerEntrySerializer})
    def post(self, request, pk: int):
        entry = get_object_or_404(entries_for(request.user), pk=pk)
        data = ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        reversal = services.reverse_entry(actor=request.user, entry=entry, reason=data.validated_data["reason"])
        created = idempotency.created(reversal)
        reversal = entries_for(request.user).filter(pk=reversal.pk).first() or reversal
        return Response(LedgerEntrySerializer(reversal).data, status=status.HTTP_201_CREATED if created else 200)


# --- committee: proposals -------------------------------------------------------------------------------------

@extend_schema_serializer(component_name="PointsVote")
class VoteSerializer(serializers.Serializer):
    member = serializers.CharField(source="member.username")
    decision = values_field(Vote.Decision.choices)
    reason = serializers.CharField()
    at = serializers.DateTimeField()


@extend_schema_serializer(component_name="PointsProposal")
class ProposalSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = values_field(Proposal.Kind.choices)
    status = values_field(Proposal.Status.choices)
    rule = serializers.CharField(source="rule.code")
    rule_name = serializers.CharField(source="rule_version.name_zh")
    rule_version = serializers.IntegerField(source="rule_version.version", help_text="in force when proposed")
    resident = serializers.IntegerField(source="resident_id", allow_null=True)
    resident_name = serializers.CharField(source="resident.name", default=None, allow_null=True)
    batch = serializers.IntegerField(source="batch_id", allow_null=True)
    batch_title = serializers.CharField(source="batch.title", default=None, allow_null=True)
    batch_targets = serializers.IntegerField(source="batch.target_count", default=None, allow_null=True)
    points = serializers.IntegerField(help_text="signed, per resident")
    occurred_on = serializers.DateField()
    reason = serializers.CharField()
    evidence = serializers.CharField()
    evidence_file = serializers.SerializerMethodField()
    source_kind = enum_field(SourceKind.choices)
    source_id = serializers.IntegerField(allow_null=True)
    quorum = serializers.IntegerField(help_text="approvals needed")
    approvals = serializers.SerializerMethodField()
    proposed_by = serializers.CharField(source="proposed_by.username", default=None, allow_null=True,
                                        help_text="empty: the platform (automatic rule)")
    proposed_at = serializers.DateTimeField()
    decided_at = serializers.DateTimeField(allow_null=True)
    rejection_reason = serializers.CharField()
    entry = serializers.IntegerField(source="entry_id", allow_null=True, help_text="the entry posted on approval")
    votes = serializers.SerializerMethodField()

    def get_evidence_file(self, proposal) -> str | None:
        return _evidence_url("proposal", proposal)

    def get_approvals(self, proposal) -> int:
        found = getattr(proposal, "approvals", None)
        return found if found is not None else proposal.votes.filter(decision=Vote.Decision.APPROVE).count()

    @extend_schema_field(VoteSerializer(many=True))
    def get_votes(self, proposal) -> list[dict]:
        if not self.context.get("detail"):
            return []
        return VoteSerializer(proposal.votes.select_related("member"), many=True).data


class ProposalFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Proposal.Status.choices)
    kind = django_filters.ChoiceFilter(choices=Proposal.Kind.choices)
    rule = django_filters.CharFilter(field_name="rule__code")
    resident = django_filters.NumberFilter(field_name="resident_id")
    to_decide = django_filters.BooleanFilter(method="filter_to_decide",
                                             help_text="pending, not proposed by me, not yet voted on by me")

    class Meta:
        model = Proposal
        fields = []

    def filter_to_decide(self, qs, name, value):
        if not value:
            return qs
        user = self.request.user
        return qs.filter(status=Proposal.Status.PENDING).exclude(proposed_by=user).exclude(
            Exists(Vote.objects.filter(proposal_id=OuterRef("pk"), member=user)))


@extend_schema_serializer(component_name="PointsPropose")
class ProposeSerializer(EntryPostSerializer):
    pass


class Proposals(generics.ListAPIView):
    """GET: proposals the caller may see (their own; those for residents in their area; batches whose
    residents all live there), newest first. POST: put an award or deduction for one resident to the
    points committee (any rule; batches are proposed through batches/)."""

    serializer_class = ProposalSerializer
    permission_classes = [Staff]
    filterset_class = ProposalFilter
    ordering_fields = ["proposed_at", "id"]

    def get_queryset(self):
        if _fake(self):
            return Proposal.objects.none()
        return proposals_for(self.request.user).order_by("-proposed_at", "-id")

    @extend_schema(summary="Propose points to the committee", request=ProposeSerializer,
                   parameters=[IDEMPOTENCY_HEADER], responses={201: ProposalSerializer, 200: ProposalSerializer})
    def post(self, request):
        key = _key(request, request.data)  # 400 for a bad key, in the one shape, before the body's checks
        data = ProposeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        proposal = services.propose(actor=request.user, resident=_resident(v["resident"]), rule=v["rule"],
                                    points=v["points"], reason=v["reason"], occurred_on=v.get("occurred_on"),
                                    evidence=v.get("evidence", ""),
                                    evidence_file=_evidence_file(v.get("evidence_file")),
                                    idempotency_key=key)
        created = idempotency.created(proposal)
        return Response(_proposal(request, proposal.pk), status=status.HTTP_201_CREATED if created else 200)


def _proposal(request, pk: int) -> dict:
    proposal = get_object_or_404(proposals_for(request.user), pk=pk)
    return ProposalSerializer(proposal, context={"detail": True}).data


class ProposalDetail(APIView):
    """A proposal with its votes."""

    permission_classes = [Staff]

    @extend_schema(responses={200: ProposalSerializer})
    def get(self, request, pk: int):
        return Response(_proposal(request, pk))


PROPOSAL_ACTIONS = {
    "approve": (NoteSerializer, lambda u, p, d: services.approve_proposal(actor=u, proposal=p, note=d["note"])),
    "reject": (ReasonSerializer, lambda u, p, d: services.reject_proposal(actor=u, proposal=p, reason=d["reason"])),
    "withdraw": (None, lambda u, p, d: services.withdraw_proposal(actor=u, proposal=p)),
}


class _ProposalAction(APIView):
    permission_classes = [Staff]
    action = ""

    def post(self, request, pk: int):
        proposal = get_object_or_404(proposals_for(request.user), pk=pk)
        serializer_class, run = PROPOSAL_ACTIONS[self.action]
        values = {}
        if serializer_class is not None:
            data = serializer_class(data=request.data)
            data.is_valid(raise_exception=True)
            values = data.validated_data
        run(request.user, proposal, values)
        return Response(_proposal(request, pk))


class ProposalApprove(_ProposalAction):
    """A committee member approves (not the proposer; once). At the quorum the entry is posted under
    the rule version in force then, or the batch starts. 409 when already decided."""

    action = "approve"

    @extend_schema(summary="Approve a proposal", request=NoteSerializer, responses={200: ProposalSerializer})
    def post(self, request, pk: int):
        return super().post(request, pk)


class ProposalReject(_ProposalAction):
    """A committee member rejects, saying why (required); one rejection rejects."""

    action = "reject"

    @extend_schema(summary="Reject a proposal", request=ReasonSerializer, responses={200: ProposalSerializer})
    def post(self, request, pk: int):
        return super().post(request, pk)


class ProposalWithdraw(_ProposalAction):
    """The proposer (or the administrator) withdraws a pending proposal."""

    action = "withdraw"

    @extend_schema(summary="Withdraw a proposal", request=None, responses={200: ProposalSerializer})
    def post(self, request, pk: int):
        return super().post(request, pk)


# --- appeals --------------------------------------------------------------------------------------------------

@extend_schema_serializer(component_name="PointsAppealedEntry")
class AppealedEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    points = serializers.IntegerField()
    occurred_on = serializers.DateField()
    posted_at = serializers.DateTimeField()
    reason = serializers.CharField()
    rule = serializers.CharField(source="rule.code")
    rule_name = serializers.CharField(source="rule_version.name_zh")


@extend_schema_serializer(component_name="PointsAppeal")
class AppealSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    entry = AppealedEntrySerializer()
    resident = serializers.IntegerField(source="resident_id")
    resident_name = serializers.CharField(source="resident.name")
    reason = serializers.CharField()
    status = values_field(Appeal.Status.choices)
    quorum = serializers.IntegerField(help_text="votes to uphold it")
    upheld_votes = serializers.SerializerMethodField()
    filed_at = serializers.DateTimeField()
    decided_at = serializers.DateTimeField(allow_null=True)
    decision_reason = serializers.CharField()
    reversal = serializers.IntegerField(source="reversal_id", allow_null=True,
                                        help_text="the reversing entry, when upheld")
    votes = serializers.SerializerMethodField()

    def get_upheld_votes(self, appeal) -> int:
        found = getattr(appeal, "upheld_votes", None)
        return found if found is not None else appeal.votes.filter(decision=Vote.Decision.APPROVE).count()

    @extend_schema_field(VoteSerializer(many=True))
    def get_votes(self, appeal) -> list[dict]:
        """Who voted is shown to staff, not to the resident (who reads the decision and its reason)."""
        if not self.context.get("detail") or not self.context.get("staff"):
            return []
        return VoteSerializer(appeal.votes.select_related("member"), many=True).data


class AppealFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Appeal.Status.choices)
    resident = django_filters.NumberFilter(field_name="resident_id")
    entry = django_filters.NumberFilter(field_name="entry_id")

    class Meta:
        model = Appeal
        fields = []


@extend_schema_serializer(component_name="PointsAppealFile")
class AppealFileSerializer(serializers.Serializer):
    entry = serializers.IntegerField(help_text="one of your entries")
    reason = serializers.CharField(max_length=2000, help_text="why you disagree")


def _appeal(request, pk: int) -> dict:
    appeal = get_object_or_404(appeals_for(request.user), pk=pk)
    return AppealSerializer(appeal, context={"detail": True, "staff": _deciders_see_votes(request.user)}).data


class Appeals(generics.ListAPIView):
    """GET: a resident's own appeals; for committee members (and the administrator) the appeals of
    the residents in their area too (``status=pending``: the queue). POST: the resident appeals one of
    their own entries, within the district's appeal period."""

    serializer_class = AppealSerializer
    permission_classes = [IsAuthenticated]
    filterset_class = AppealFilter
    ordering_fields = ["filed_at", "id"]

    def get_queryset(self):
        if _fake(self):
            return Appeal.objects.none()
        return appeals_for(self.request.user).order_by("-filed_at", "-id")

    @extend_schema(summary="Appeal an entry", request=AppealFileSerializer, responses={201: AppealSerializer})
    def post(self, request):
        data = AppealFileSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        entry = Entry.objects.filter(pk=data.validated_data["entry"]).first()
        if entry is None:
            raise DomainError(_("There is no such entry."), code="unknown_entry", fields={"entry": [_("Not found.")]})
        appeal = services.file_appeal(actor=request.user, entry=entry, reason=data.validated_data["reason"])
        return Response(_appeal(request, appeal.pk), status=status.HTTP_201_CREATED)


class AppealDetail(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: AppealSerializer})
    def get(self, request, pk: int):
        return Response(_appeal(request, pk))


class AppealUphold(APIView):
    """A committee member agrees with the resident; at the quorum the entry is reversed."""

    permission_classes = [IsAuthenticated]

    @extend_schema(summary="Uphold an appeal", request=NoteSerializer, responses={200: AppealSerializer})
    def post(self, request, pk: int):
        appeal = get_object_or_404(appeals_for(request.user), pk=pk)
        data = NoteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.uphold_appeal(actor=request.user, appeal=appeal, note=data.validated_data["note"])
        return Response(_appeal(request, pk))


class AppealRefuse(APIView):
    """A committee member refuses the appeal, saying why (required); the entry stands."""

    permission_classes = [IsAuthenticated]

    @extend_schema(summary="Refuse an appeal", request=ReasonSerializer, responses={200: AppealSerializer})
    def post(self, request, pk: int):
        appeal = get_object_or_404(appeals_for(request.user), pk=pk)
        data = ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.refuse_appeal(actor=request.user, appeal=appeal, reason=data.validated_data["reason"])
        return Response(_appeal(request, pk))


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
    sms_sent = serializers.IntegerField()
    sms_failed = serializers.IntegerField()


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
        total = batch.target_count or 0
        return {"status": batch.status, "done": batch.progress_done, "total": total,
                "percent": round(100.0 * batch.progress_done / total, 1) if total else 100.0,
                "posted": batch.posted_count, "skipped": batch.skipped_count, "unknown": batch.unknown_count,
                "sms_sent": batch.sms_sent, "sms_failed": batch.sms_failed}


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
        return Response(BatchSerializer(batch, context={"progress": selectors.batch_progress(batch)}).data)


class BatchRetry(APIView):
    """Start a failed batch again (who made it, or the administrator); it continues after the last
    committed chunk and never posts anyone twice. 409 unless the batch failed."""

    permission_classes = [Staff]

    @extend_schema(summary="Retry a failed batch", request=None, responses={200: BatchSerializer})
    def post(self, request, pk: int):
        batch = get_object_or_404(batches_for(request.user), pk=pk)
        batch = batches.retry_batch(actor=request.user, batch=batch)
        return Response(BatchSerializer(get_object_or_404(batches_for(request.user), pk=batch.pk)).data)


# --- the compound ranking ---------------------------------------------------------------------------------------

@extend_schema_serializer(component_name="PointsRanking")
class RankingSerializer(serializers.ModelSerializer):
    compound = serializers.CharField(source="compound.code")
    compound_name = serializers.CharField(source="compound.name")

    class Meta:
        model = CompoundScore
        fields = ["rank", "compound", "compound_name", "score", "households", "residents", "civic_points",
                  "reports_made", "praises", "offences", "computed_at"]
        read_only_fields = fields


class Ranking(APIView):
    """Compounds by civility score (小区文明积分), best first; refreshed every few minutes."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: inline_serializer("PointsRankingList", {
                       "results": RankingSerializer(many=True)})},
                   parameters=[OpenApiParameter("community"),
                               OpenApiParameter("limit", {"type": "integer", "minimum": 1, "maximum": 200})])
    def get(self, request):
        rows = selectors.compound_ranking(limit=_int(request, "limit", 20, 1, 200),
                                          community=request.query_params.get("community") or None)
        return Response({"results": RankingSerializer(rows, many=True).data})
