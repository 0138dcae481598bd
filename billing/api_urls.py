"""/api/v1/billing/ on the public host."""
from django.urls import path

from billing import api

urlpatterns = [
    path("plans/", api.PlanList.as_view(), name="billing-plans"),
    path("plans/<slug:key>/", api.PlanDetail.as_view(), name="billing-plan"),
    path("accounts/", api.AccountList.as_view(), name="billing-accounts"),
    path("accounts/<slug:slug>/", api.AccountDetail.as_view(), name="billing-account"),
    path("accounts/<slug:slug>/override/", api.AccountOverride.as_view(), name="billing-account-override"),
    path("invoices/", api.InvoiceList.as_view(), name="billing-invoices"),
    path("usage/", api.UsageList.as_view(), name="billing-usage"),
    path("reconcile/", api.ReportList.as_view(), name="billing-reconcile"),
]
