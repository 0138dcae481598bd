"""The committee API under /api/v1/points/: proposals/ (propose), proposals/<id>/approve|reject|withdraw/;
appeals/ (file), appeals/<id>/uphold|refuse/. Thin: the services check role, scope and maker–checker."""
from __future__ import annotations

import django_filters
from django.db.models import Count, Exists, OuterRef, Q
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import (
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import generics, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from kernel import idempotency
from kernel.errors import DomainError
from kernel.selectors import roles_of
from modules.points.api_common import (
    DECIDERS,
    IDEMPOTENCY_HEADER,
    Staff,
    _all_targets_inside,
    _deciders_see_votes,
    _evidence_file,
    _evidence_url,
    _fake,
    _inside,
    _key,
    _resident,
    enum_field,
    values_field,
)
from modules.points.committee import appeals as appeal_services
from modules.points.committee import services as proposals
from modules.points.ledger import services as ledger
from modules.points.ledger.api import EntryPostSerializer, NoteSerializer, ReasonSerializer
from modules.points.models import (
    Appeal,
    Entry,
    Proposal,
    SourceKind,
    Vote,
)


def proposals_for(user):
    qs = Proposal.objects.select_related("rule", "rule_version", "resident", "batch", "proposed_by").annotate(
        approvals=Count("votes", filter=Q(votes__decision=Vote.Decision.APPROVE)))
    inside = _inside(user, ledger.POSTER_ROLES)
    if inside is None:
        return qs
    return qs.filter(Q(proposed_by=user) | Q(kind=Proposal.Kind.SINGLE, resident_id__in=inside)
                     | (Q(kind=Proposal.Kind.BATCH) & _all_targets_inside(inside, "batch_id")))


def appeals_for(user):
    """Residents: their own appeals. Committee members and the administrator: the appeals of the
    residents in their area."""
    qs = Appeal.objects.select_related("entry__rule_version", "entry__rule", "resident", "filed_by").annotate(
        upheld_votes=Count("votes", filter=Q(votes__decision=Vote.Decision.APPROVE)))
    own = Q(filed_by=user)
    me = ledger.resident_of(user)
    if me is not None:
        own |= Q(resident_id=me.pk)
    if not any(a.role in DECIDERS for a in roles_of(user)):
        return qs.filter(own)
    inside = _inside(user, DECIDERS)
    return qs if inside is None else qs.filter(own | Q(resident_id__in=inside))

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
        proposal = proposals.propose(actor=request.user, resident=_resident(v["resident"]), rule=v["rule"],
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
    "approve": (NoteSerializer, lambda u, p, d: proposals.approve_proposal(actor=u, proposal=p, note=d["note"])),
    "reject": (ReasonSerializer, lambda u, p, d: proposals.reject_proposal(actor=u, proposal=p, reason=d["reason"])),
    "withdraw": (None, lambda u, p, d: proposals.withdraw_proposal(actor=u, proposal=p)),
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
        appeal = appeal_services.file_appeal(actor=request.user, entry=entry, reason=data.validated_data["reason"])
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
        appeal_services.uphold_appeal(actor=request.user, appeal=appeal, note=data.validated_data["note"])
        return Response(_appeal(request, pk))


class AppealRefuse(APIView):
    """A committee member refuses the appeal, saying why (required); the entry stands."""

    permission_classes = [IsAuthenticated]

    @extend_schema(summary="Refuse an appeal", request=ReasonSerializer, responses={200: AppealSerializer})
    def post(self, request, pk: int):
        appeal = get_object_or_404(appeals_for(request.user), pk=pk)
        data = ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        appeal_services.refuse_appeal(actor=request.user, appeal=appeal, reason=data.validated_data["reason"])
        return Response(_appeal(request, pk))
