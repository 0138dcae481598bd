"""/billing/ on the public site: Stripe's webhook and the finance / vendor / ops billing pages."""
from django.urls import path

from billing import views

app_name = "billing"
urlpatterns = [
    path("", views.index, name="index"),
    path("stripe/webhook/", views.StripeWebhook.as_view(), name="stripe-webhook"),
    path("plans/", views.plans, name="plans"),
    path("plans/edit/", views.plan_edit, name="plan-edit"),  # ?key=<plan>; none: a new plan
    path("accounts/", views.accounts, name="accounts"),
    path("accounts/<slug:slug>/", views.account, name="account"),
    path("accounts/<slug:slug>/override/", views.account_override, name="account-override"),
    path("invoices/", views.invoices, name="invoices"),
    path("reconcile/", views.reports, name="reconcile"),  # ?report=<id> shows one report
    path("events/", views.events, name="events"),
    path("events/retry/", views.event_retry, name="event-retry"),  # POST event=<id>
]
