"""The district's own billing as JSON (district host, admins): the account and a page of invoices.
The district is the request's tenant; nothing here takes a district or account id."""
from __future__ import annotations

from django.db import connection
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response

from billing import selectors
from billing.api import InvoiceSerializer
from kernel.permissions import HasRole
from kernel.roles import Role


class DistrictBillingSerializer(serializers.Serializer):
    plan = serializers.CharField(allow_null=True)
    plan_name_zh = serializers.CharField(allow_null=True)
    amount_fen = serializers.IntegerField(allow_null=True)
    state = serializers.CharField()
    past_due_since = serializers.DateTimeField(allow_null=True)
    invoices = InvoiceSerializer(many=True)


class DistrictBillingView(generics.GenericAPIView):
    """This district's plan, billing state and latest 50 invoices."""

    permission_classes = [HasRole(Role.DISTRICT_ADMIN)]
    serializer_class = DistrictBillingSerializer
    pagination_class = None

    @extend_schema(responses=DistrictBillingSerializer)
    def get(self, request):
        district = connection.tenant
        account = selectors.account_of_district(district)
        invoices = selectors.invoices_of_district(district).select_related("account__district")[:50]
        return Response(DistrictBillingSerializer({
            "plan": account.plan.key if account else None, "plan_name_zh": account.plan.name_zh if account else None,
            "amount_fen": account.plan.amount_fen if account else None, "state": account.state if account else "pending",
            "past_due_since": account.past_due_since if account else None, "invoices": invoices}).data)
