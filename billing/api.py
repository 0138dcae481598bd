"""Billing API on the public host (/api/v1/billing/): plans (finance writes), accounts, invoices, usage
and reconcile reports, narrowed by role (a vendor sees its own districts' rows only, others 404)."""
from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response

from billing import selectors, services
from billing.models import BillingAccount, Invoice, Plan, ReconcileReport, UsageRecord
from billing.reconcile import reconcile
from kernel.errors import DomainError
from tenants.access import FINANCE, OPS, HasPlatformRole, has_platform_role


class PlanSerializer(serializers.ModelSerializer):
    class Meta:
        model = Plan
        fields = ["key", "name_zh", "name_en", "modules", "max_population", "amount_fen", "currency",
                  "collection_method", "days_until_due", "grace_days", "records_usage", "usage_metered", "active",
                  "stripe_plan_id", "updated_at"]
        read_only_fields = ["stripe_plan_id", "updated_at"]
        extra_kwargs = {"key": {"validators": []}}  # the service answers a taken key with 409


class PlanList(generics.ListCreateAPIView):
    """Plans. Everyone on the billing side reads them; only finance makes one (mirrored in Stripe)."""

    serializer_class = PlanSerializer
    filterset_fields = ["active", "collection_method"]
    ordering_fields = ["amount_fen", "key"]

    def get_permissions(self):
        return [HasPlatformRole.of(FINANCE)() if self.request.method == "POST" else HasPlatformRole.of(OPS, FINANCE)()]

    def get_queryset(self):
        return selectors.plans()

    def perform_create(self, serializer):
        serializer.instance = services.save_plan(actor=self.request.user, **serializer.validated_data)


class PlanDetail(generics.RetrieveUpdateAPIView):
    serializer_class = PlanSerializer
    lookup_field = "key"
    http_method_names = ["get", "patch", "head", "options"]

    def get_permissions(self):
        return [HasPlatformRole.of(FINANCE)() if self.request.method == "PATCH" else HasPlatformRole.of(OPS, FINANCE)()]

    def get_queryset(self):
        return selectors.plans()

    def perform_update(self, serializer):
        changes = dict(serializer.validated_data)
        changes.pop("key", None)
        serializer.instance = services.save_plan(actor=self.request.user, plan=serializer.instance, **changes)


class AccountSerializer(serializers.ModelSerializer):
    district = serializers.SlugRelatedField(read_only=True, slug_field="slug")
    district_status = serializers.CharField(source="district.status", read_only=True)
    plan = serializers.SlugRelatedField(read_only=True, slug_field="key")

    class Meta:
        model = BillingAccount
        fields = ["district", "district_status", "plan", "state", "state_as_of", "past_due_since",
                  "stripe_customer_id", "stripe_subscription_id", "subscription_status", "keep_active_until",
                  "override_reason", "opened_at"]


class AccountList(generics.ListAPIView):
    permission_classes = [HasPlatformRole.of()]
    serializer_class = AccountSerializer
    filterset_fields = ["state"]
    ordering_fields = ["district__slug", "state_as_of"]

    def get_queryset(self):
        return selectors.accounts_for(self.request.user)


class AccountDetail(generics.RetrieveAPIView):
    permission_classes = [HasPlatformRole.of()]
    serializer_class = AccountSerializer
    lookup_field = "district__slug"
    lookup_url_kwarg = "slug"

    def get_queryset(self):
        return selectors.accounts_for(self.request.user)


class OverrideSerializer(serializers.Serializer):
    keep_active_until = serializers.DateField(allow_null=True, help_text="Last day kept active; null ends it.")
    reason = serializers.CharField(max_length=500, help_text="Why: kept in the audit log.")
    confirm = serializers.BooleanField(help_text="Must be true: the change is confirmed.")


class AccountOverride(generics.GenericAPIView):
    """Platform staff keep a district active until a day (the ladder respects it), with a reason and a
    confirmation, audited."""

    permission_classes = [HasPlatformRole.of(OPS)]
    serializer_class = OverrideSerializer

    @extend_schema(request=OverrideSerializer, responses={200: AccountSerializer})
    def post(self, request, slug: str):
        account = get_object_or_404(selectors.accounts_for(request.user), district__slug=slug)
        data = OverrideSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if not data.validated_data["confirm"]:
            message = _("Tick the box to confirm: nothing was changed.")
            raise DomainError(message, code="confirm_required", fields={"confirm": [message]})
        account = services.override(actor=request.user, account=account,
                                    keep_active_until=data.validated_data["keep_active_until"],
                                    reason=data.validated_data["reason"])
        return Response(AccountSerializer(account).data)


class InvoiceSerializer(serializers.ModelSerializer):
    district = serializers.SlugRelatedField(source="account.district", read_only=True, slug_field="slug")

    class Meta:
        model = Invoice
        fields = ["stripe_invoice_id", "district", "number", "amount_due", "amount_paid", "currency", "status",
                  "collection_method", "due_date", "payment_failed_at", "paid_at", "hosted_invoice_url",
                  "invoice_pdf", "created_at"]


class InvoiceList(generics.ListAPIView):
    """Invoices: every district's for ops and finance, a vendor's own districts' for a vendor."""

    permission_classes = [HasPlatformRole.of()]
    serializer_class = InvoiceSerializer
    filterset_fields = ["status"]
    ordering_fields = ["created_at", "due_date"]

    def get_queryset(self):
        return selectors.invoices_for(self.request.user)


class UsageSerializer(serializers.ModelSerializer):
    district = serializers.SlugRelatedField(read_only=True, slug_field="slug")

    class Meta:
        model = UsageRecord
        fields = ["district", "month", "residents_bound", "active_users", "counted_at", "reported_at", "report"]


class UsageList(generics.ListAPIView):
    permission_classes = [HasPlatformRole.of()]
    serializer_class = UsageSerializer
    ordering_fields = ["month"]

    def get_queryset(self):
        from tenants.access import for_vendor_of

        return for_vendor_of(self.request.user, UsageRecord.objects.select_related("district").order_by("-month"),
                             field="district__vendor")


class ReportSerializer(serializers.ModelSerializer):
    class Meta:
        model = ReconcileReport
        fields = ["id", "started_at", "finished_at", "accounts_checked", "differences", "errors"]


class ReportList(generics.ListCreateAPIView):
    """Reconcile reports; POST runs a reconciliation now (ops, finance)."""

    permission_classes = [HasPlatformRole.of(OPS, FINANCE)]
    serializer_class = ReportSerializer

    def get_queryset(self):
        return selectors.reports()

    @extend_schema(request=None, responses={201: ReportSerializer})
    def post(self, request):
        if not has_platform_role(request.user, OPS, FINANCE):
            raise DomainError(_("Not allowed."), status=403)
        return Response(ReportSerializer(reconcile(actor=request.user)).data, status=status.HTTP_201_CREATED)
