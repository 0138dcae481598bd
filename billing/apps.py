from django.apps import AppConfig


class BillingConfig(AppConfig):
    """Plans, the Stripe customer/subscription mirror, webhook event store and dunning (public schema).
    Filled by the billing issue; the app exists so the layout and migrations are stable."""

    name = "billing"
